// SIP over WebSocket (RFC 7118) at /v1/sip with a real browser SIP phone:
// JsSIP 3.13 in Chromium registers alice's SIP account (101, digest auth)
// over ws://…/v1/sip, calls bob (the SDK, 102) and is called by him. Media
// is WebRTC end to end (ICE, DTLS-SRTP) through the server; each side
// checks it hears the other's tone (alice 440 Hz, bob 1000 Hz).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connectPhone, events, expectSilence, expectTone, hangupAll, openBrowser, recordEvents, reset, sb, takeIncoming,
} from './helpers.mjs';

const SIP_PASSWORD = 'alice-sip-pass'; // the demo user's (internal/server/demo.go)

let alice; // JsSIP
let bob; // the SDK
let jssip; // JsSIP bundled for the page (it ships CommonJS only)

beforeAll(async () => {
  const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/jssip/lib/JsSIP.js');
  const out = await build({ entryPoints: [entry], bundle: true, format: 'iife', globalName: 'JsSIP',
    platform: 'browser', write: false, logLevel: 'silent' });
  jssip = out.outputFiles[0].text;
  [alice, bob] = await Promise.all([openBrowser('alice'), openBrowser('bob')]);
});
afterAll(async () => {
  await Promise.all([alice, bob].map((b) => b?.close()));
});
beforeEach(async () => {
  await reset(bob);
  await connectPhone(bob);
  await reset(alice);
  await register(alice);
});
afterEach(async () => {
  await alice.page.evaluate(() => window.__t.session?.terminate()).catch(() => {});
  await hangupAll(bob);
  await unregister(alice); // no stale contact rings in later test files
  for (const b of [alice, bob]) expect(b.errors, `uncaught errors in ${b.user}'s page`).toEqual([]);
});

/**
 * Starts a JsSIP UA as alice's SIP account in the page and waits until it is
 * registered. window.__t.sip is the UA, window.__t.sipEvents its and its
 * sessions' events, window.__t.session the current session and
 * window.__t.jssip a { peerConnection } the audio probes read.
 */
async function register(b) {
  // Evaluated, not a <script>: the server's pages allow no inline scripts (CSP).
  await b.page.evaluate(`${jssip}\nwindow.JsSIP = JsSIP; undefined`);
  await b.page.evaluate(async ({ ext, password }) => {
    const T = (window.__t = { sipEvents: [], incoming: [] });
    const ua = new window.JsSIP.UA({
      sockets: [new window.JsSIP.WebSocketInterface(`ws://${location.host}/v1/sip`)],
      uri: `sip:${ext}@${location.hostname}`,
      password,
      register: true,
      register_expires: 300,
      session_timers: false,
    });
    T.sip = ua;
    for (const ev of ['connected', 'disconnected', 'registered', 'unregistered', 'registrationFailed']) {
      ua.on(ev, (e) => T.sipEvents.push(ev + (e?.cause ? ':' + e.cause : '')));
    }
    ua.on('newRTCSession', ({ session, originator }) => {
      T.session = session;
      T.jssip = { get peerConnection() { return session.connection; } };
      for (const ev of ['progress', 'accepted', 'confirmed', 'ended', 'failed', 'hold', 'unhold']) {
        session.on(ev, (e) => T.sipEvents.push('session:' + ev + (e?.cause ? ':' + e.cause : '')));
      }
      if (originator === 'remote') T.incoming.push(session);
    });
    const done = new Promise((resolve, reject) => {
      ua.once('registered', resolve);
      // JsSIP keeps only the last WWW-Authenticate and answers MD5 only: the
      // server must offer it MD5 alone (sip.md5_only_agents has "JsSIP").
      ua.once('registrationFailed', (e) => reject(new Error('registration failed: ' + e.cause)));
    });
    ua.start();
    await done;
  }, { ext: b.extension, password: SIP_PASSWORD });
}

async function unregister(b) {
  await b.page.evaluate(async () => {
    const ua = window.__t?.sip;
    if (!ua?.isRegistered()) return;
    const done = new Promise((resolve) => ua.once('unregistered', resolve));
    ua.unregister();
    await done;
    ua.stop();
  }).catch(() => {});
}

const sipEvents = (b) => b.page.evaluate(() => window.__t.sipEvents);

/** JsSIP (alice) calls bob's SDK (102), bob answers; both hear each other. */
async function callBob() {
  await alice.page.evaluate((host) => {
    window.__t.sip.call(`sip:102@${host}`, {
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
    });
  }, new URL(sb.url).hostname);
  await takeIncoming(bob);
  expect(await bob.page.evaluate(() => window.__t.call.from)).toBe('101');
  await recordEvents(bob);
  await bob.page.evaluate(() => window.__t.call.answer());
  await expect.poll(() => sipEvents(alice)).toContain('session:confirmed');
  await expectTone(bob, 'alice');
  await expectTone(alice, 'bob', 'jssip');
}

describe('JsSIP over /v1/sip', () => {
  it('registers with digest auth over ws://…/v1/sip (subprotocol sip)', async () => {
    expect(await sipEvents(alice)).toEqual(['connected', 'registered']);
    const proto = await alice.page.evaluate(() => window.__t.sip._transport.socket._ws.protocol);
    expect(proto).toBe('sip');
  });

  it('calls the SDK: bob answers, audio both ways, JsSIP hangs up', async () => {
    await callBob();
    await alice.page.evaluate(() => window.__t.session.terminate());
    await expect.poll(() => events(bob)).toContain('call:ended:hangup');
    await expect.poll(() => sipEvents(alice)).toContain('session:ended:Terminated');
  });

  it('DTMF (SIP INFO) reaches the SDK; hold (re-INVITE) plays bob music, unhold brings alice back', async () => {
    await callBob();
    await bob.page.evaluate(() => {
      window.__t.dtmf = window.__sb.dtmfListener(window.__t.call.peerConnection);
      return window.__t.dtmf.ready;
    });
    await alice.page.evaluate(() => window.__t.session.sendDTMF('12#', { transportType: 'INFO', duration: 250, interToneGap: 250 }));
    // The server relays the INFO digits as RFC 4733 events; Chrome plays them
    // out. Digits of 250 ms: JsSIP's 100 ms default is short for the detector.
    await expect.poll(() => bob.page.evaluate(() => window.__t.dtmf.heard.join('')), { timeout: 10_000 }).toBe('12#');
    await bob.page.evaluate(() => window.__t.dtmf.stop());

    await alice.page.evaluate(() => window.__t.session.hold());
    await expect.poll(() => sipEvents(alice)).toContain('session:hold');
    await expect.poll(() => events(bob)).toContain('call:held:remote');
    await expectSilence(bob, 'call', false); // music on hold
    await alice.page.evaluate(() => window.__t.session.unhold());
    await expect.poll(() => events(bob)).toContain('call:resumed');
    await expectTone(bob, 'alice');
    await expectTone(alice, 'bob', 'jssip');
  });

  it('is called by the SDK over its WebSocket, answers, audio both ways, bob hangs up', async () => {
    await bob.page.evaluate(async () => {
      window.__t.call = await window.__t.phone.call('101');
      window.__t.record('call');
    });
    await alice.page.waitForFunction(() => window.__t.incoming.length > 0);
    expect(await alice.page.evaluate(() => window.__t.session.remote_identity.uri.user)).toBe('102');
    await expect.poll(() => events(bob)).toContain('call:ringing');
    await alice.page.evaluate(() => window.__t.session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
    }));
    await expect.poll(() => events(bob)).toContain('call:answered');
    await expect.poll(() => sipEvents(alice)).toContain('session:confirmed');
    await expectTone(alice, 'bob', 'jssip');
    await expectTone(bob, 'alice');
    await bob.page.evaluate(() => window.__t.call.hangup());
    await expect.poll(() => sipEvents(alice)).toContain('session:ended:Terminated');
  });
});
