// Calling guide, "Making a Call (Raw WebSocket)": the example runs unchanged
// in Chromium with its own RTCPeerConnection and WebSocket (no SDK). The
// wrapper supplies what the guide assumes exists: `ws`, a socket opened with
// the dialstack.webrtc.v1 subprotocol and already authenticated, and
// `iceServers` from GET /v1/webrtc/ice-servers. +14155551234 is a number of
// the test account routed to dave (105), who answers with the SDK.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SNIPPETS } from './guide-snippets.mjs';
import { connectPhone, expectTone, hangupAll, openBrowser, reset, runSnippet, takeIncoming } from './helpers.mjs';

let alice;
let dave;

beforeAll(async () => {
  [alice, dave] = await Promise.all([openBrowser('alice'), openBrowser('dave')]);
});
afterAll(async () => {
  await Promise.all([alice, dave].map((b) => b?.close()));
});
beforeEach(async () => {
  await reset(alice);
  await reset(dave);
  await connectPhone(dave);
  await alice.page.evaluate(() => { window.__t = { events: [] }; });
});
afterEach(async () => {
  await alice.page.evaluate(() => window.__t.ws?.close()).catch(() => {});
  await hangupAll(dave);
  for (const b of [alice, dave]) expect(b.errors, `uncaught errors in ${b.user}'s page`).toEqual([]);
});

// `callId` is the one variable the example reads outside the scope that
// declares it (its onicecandidate handler): the wrapper keeps it up to date.
const rawContext = (token) => `
  const token = ${JSON.stringify(token)};
  const res = await fetch('/v1/webrtc/ice-servers', { headers: { Authorization: 'Bearer ' + token } });
  iceServers = (await res.json()).ice_servers;
  ws = new WebSocket('ws://' + location.host + '/v1/webrtc', 'dialstack.webrtc.v1');
  T.ws = ws;
  T.received = [];
  T.sent = [];
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(e.data);
    T.received.push(m);
    if (m.type === 'call.trying') callId = m.call_id;
  });
  const send = ws.send.bind(ws);
  ws.send = (data) => { T.sent.push(JSON.parse(data)); send(data); };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const authed = new Promise((resolve) => ws.addEventListener('message', (e) => {
    if (JSON.parse(e.data).type === 'authenticated') resolve();
  }));
  ws.send(JSON.stringify({ type: 'authenticate', token }));
  await authed;
  T.protocol = ws.protocol;
`;

const received = () => alice.page.evaluate(() => window.__t.received.map((m) => m.type));

describe('Direct WebSocket usage', () => {
  it('places a call, gets call.answered, media flows both ways; call.ended closes the peer connection', async () => {
    await runSnippet(alice, SNIPPETS.rawWebSocket, {
      before: rawContext(alice.token),
      after: 'T.pc = pc; T.call = { peerConnection: pc };',
    });
    expect(await alice.page.evaluate(() => window.__t.protocol)).toBe('dialstack.webrtc.v1');
    await expect.poll(received).toEqual(expect.arrayContaining(['call.trying', 'sdp.answer', 'call.ringing']));
    const trying = await alice.page.evaluate(() => window.__t.received.find((m) => m.type === 'call.trying'));
    expect(trying.req_id).toBe('my-call-1');

    await takeIncoming(dave);
    expect(await dave.page.evaluate(() => window.__t.call.to)).toBe('+14155551234');
    await dave.page.evaluate(() => window.__t.call.answer());
    await expect.poll(received).toContain('call.answered');
    await expect.poll(() => alice.page.evaluate(() => window.__t.pc.connectionState)).toBe('connected');
    await expectTone(dave, 'alice');
    await expectTone(alice, 'dave');

    // The example trickles its candidates and ends with ice.done. Whether
    // gathering finishes before call.trying names the call is a race on
    // loopback, so only frames that carry a call id are checked for it.
    const sent = await alice.page.evaluate(() => window.__t.sent);
    const cands = sent.filter((m) => m.type === 'ice.candidate');
    expect(cands.length).toBeGreaterThan(0);
    expect(cands.filter((m) => m.call_id).every((m) => m.call_id === trying.call_id)).toBe(true);
    expect(sent.filter((m) => m.type === 'ice.done')).toHaveLength(1);

    await dave.page.evaluate(() => window.__t.call.hangup());
    await expect.poll(received).toContain('call.ended');
    const ended = await alice.page.evaluate(() => window.__t.received.find((m) => m.type === 'call.ended'));
    expect(ended).toMatchObject({ call_id: trying.call_id, reason: 'hangup' });
    await expect.poll(() => alice.page.evaluate(() => window.__t.pc.signalingState)).toBe('closed');
  });

  it('the example works against the switchboard.v1 alias as well', async () => {
    await runSnippet(alice, SNIPPETS.rawWebSocket, {
      before: rawContext(alice.token).replace("'dialstack.webrtc.v1'", "'switchboard.v1'"),
      after: 'T.pc = pc;',
    });
    expect(await alice.page.evaluate(() => window.__t.protocol)).toBe('switchboard.v1');
    await takeIncoming(dave);
    await dave.page.evaluate(() => window.__t.call.answer());
    await expect.poll(received).toContain('call.answered');
    await alice.page.evaluate(() => window.__t.ws.send(JSON.stringify({
      type: 'call.hangup', call_id: window.__t.received.find((m) => m.type === 'call.trying').call_id,
    })));
    await expect.poll(received).toContain('call.ended');
    await expect.poll(() => alice.page.evaluate(() => window.__t.pc.signalingState)).toBe('closed');
  });
});
