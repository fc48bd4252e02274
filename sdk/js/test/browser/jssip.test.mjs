// SIP over WebSocket (RFC 7118) at /v1/sip with a real browser SIP phone:
// JsSIP 3.13 in Chromium registers alice's SIP account (101, digest auth)
// over ws://…/v1/sip, calls bob (the SDK, 102) and is called by him, sends
// DTMF (SIP INFO), holds (re-INVITE), calls a baresip desk phone (carol,
// 103) and blind-transfers bob to it (REFER). Media is WebRTC (ICE,
// DTLS-SRTP) between JsSIP and the server; every call checks that each end
// hears the other's tone (alice 440 Hz, bob 1000 Hz, carol 660 Hz).
//
// Needs the server to offer JsSIP MD5 challenges alone (sip.md5_only_agents
// lists "JsSIP"): JsSIP keeps only the last WWW-Authenticate header.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connectPhone, events, expectSilence, expectTone, hangupAll, openBrowser, recordEvents, reset, sb, takeIncoming,
} from './helpers.mjs';
import { peerPort } from './ports.mjs';

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

/** The server's SIP (UDP/TCP) address, from its log. */
async function sipAddr() {
  const m = /msg="sip listening" addr=(\S+)/.exec(await readFile(sb.logPath, 'utf8'));
  if (!m) throw new Error('no "sip listening" line in the server log');
  return m[1];
}

/**
 * Runs Debian's baresip as a desk phone registered as carol (103), answering
 * by itself and sending carol's tone (as test/harness/baresip.go does).
 */
async function startBaresip() {
  const dir = await mkdtemp(path.join(sb.scratch, 'baresip-'));
  const [sipPort, ctrl] = [await peerPort('sip'), await peerPort('tcp')];
  const config = [
    'poll_method epoll', `sip_listen 127.0.0.1:${sipPort}`, 'net_interface 127.0.0.1', 'rtp_ports 10000-20000',
    'audio_player alsa,null', `snd_path ${dir}`, `audio_source ausine,${sb.users.carol.tone}`,
    'ausrc_srate 48000', 'ausrc_channels 2', 'module_path /usr/lib/baresip/modules',
    'module g711.so', 'module ausine.so', 'module alsa.so', 'module sndfile.so', 'module_tmp account.so',
    'module_app menu.so', 'module_app ctrl_tcp.so', `ctrl_tcp_listen 127.0.0.1:${ctrl}`, '',
  ].join('\n');
  await writeFile(path.join(dir, 'config'), config);
  await writeFile(path.join(dir, 'accounts'),
    `<sip:103@${await sipAddr()}>;auth_pass=carol-sip-pass;regint=60;answermode=auto;audio_codecs=pcmu\n`);
  const proc = spawn('baresip', ['-f', dir], { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  return {
    dir,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * How much of the last second baresip decoded is a tone at freq (0..1,
 * Goertzel power over the second's whole power; a pure tone is ≈ 1).
 */
async function baresipHears(phone, freq) {
  const dumps = (await readdir(phone.dir)).filter((f) => f.includes('dec') && f.endsWith('.wav')).sort();
  if (dumps.length === 0) return 0;
  const data = await readFile(path.join(phone.dir, dumps[dumps.length - 1]));
  const f = data.indexOf('fmt ');
  const d = data.indexOf('data');
  if (f < 0 || d < 0) return 0;
  const channels = data.readUInt16LE(f + 10);
  const rate = data.readUInt32LE(f + 12);
  const frames = Math.floor((data.length - d - 8) / (2 * channels));
  if (frames < rate) return 0;
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = frames - rate; i < frames; i++) {
    const x = data.readInt16LE(d + 8 + i * 2 * channels) / 32768;
    energy += x * x;
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy > 0 ? power / ((rate * energy) / 2) : 0;
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
    // out. Chrome's playout of a generated digit sometimes dips mid-tone and
    // the detector hears it twice ("122#"): repeats are collapsed (the digits
    // here differ; exact RFC 4733 events are checked in test/e2e).
    await expect.poll(() => bob.page.evaluate(() => window.__t.dtmf.heard.filter((d, i, a) => d !== a[i - 1]).join('')),
      { timeout: 10_000 }).toBe('12#');
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

  it('calls a desk phone (baresip, UDP, PCMU): audio both ways through the server', async () => {
    const phone = await startBaresip();
    try {
      await expect.poll(() => phone.output(), { timeout: 15_000 }).toMatch(/200 OK/);
      await alice.page.evaluate((host) => {
        window.__t.sip.call(`sip:103@${host}`, {
          mediaConstraints: { audio: true, video: false },
          pcConfig: { iceServers: [] },
        });
      }, new URL(sb.url).hostname);
      await expect.poll(() => sipEvents(alice), { timeout: 15_000 }).toContain('session:confirmed');
      await expectTone(alice, 'carol', 'jssip');
      await expect.poll(() => baresipHears(phone, sb.users.alice.tone), { timeout: 15_000, interval: 200 })
        .toBeGreaterThan(0.5);
      await alice.page.evaluate(() => window.__t.session.terminate());
      await expect.poll(() => phone.output(), { timeout: 10_000 }).toMatch(/closed/);
    } catch (err) {
      throw new Error(`${err.message}\n--- baresip ---\n${phone.output().slice(-3000)}`);
    } finally {
      await phone.stop();
    }
  });

  it('blind-transfers bob to a desk phone with REFER: bob then hears the desk phone', async () => {
    const phone = await startBaresip();
    try {
      await expect.poll(() => phone.output(), { timeout: 15_000 }).toMatch(/200 OK/);
      await callBob();
      await alice.page.evaluate((host) => {
        const T = window.__t;
        T.referEvents = [];
        T.session.refer(`sip:103@${host}`, {
          eventHandlers: {
            requestSucceeded: () => T.referEvents.push('accepted'),
            accepted: () => T.referEvents.push('notify:2xx'),
            failed: (e) => T.referEvents.push('failed:' + (e?.cause ?? '')),
          },
        });
      }, new URL(sb.url).hostname);
      await expect.poll(() => alice.page.evaluate(() => window.__t.referEvents), { timeout: 15_000 })
        .toEqual(['accepted', 'notify:2xx']);
      await expectTone(bob, 'carol');
      await expect.poll(() => baresipHears(phone, sb.users.bob.tone), { timeout: 15_000, interval: 200 })
        .toBeGreaterThan(0.5);
      // The transferor's leg ends (it may hang up itself; JsSIP does not).
      await expect.poll(() => sipEvents(alice), { timeout: 15_000 }).toContain('session:ended:Terminated');
    } catch (err) {
      throw new Error(`${err.message}\n--- baresip ---\n${phone.output().slice(-3000)}`);
    } finally {
      await phone.stop();
    }
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
