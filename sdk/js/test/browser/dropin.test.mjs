// DialStack's browser SDK pointed at Switchboard, as its users would: the
// app's page is on its own origin (sb.appOrigin, listed in the server's
// http.cors_origins), and it speaks to the API cross-origin. These tests
// behave on the wire as that SDK does (our own code, written from what it
// sends): it fetches ICE servers with a Bearer header, authenticates with
// no session_id, and sends its candidates under the call.create req_id
// before call.trying names the call.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectPhone, expectTone, hangupAll, openBrowser, reset, sb, takeIncoming } from './helpers.mjs';

let alice;
let bob;

beforeAll(async () => {
  [alice, bob] = await Promise.all([openBrowser('alice'), openBrowser('bob')]);
});
afterAll(async () => {
  await Promise.all([alice, bob].map((b) => b?.close()));
});
beforeEach(async () => {
  await reset(bob);
  await connectPhone(bob);
  await alice.page.goto(`${sb.appOrigin}/`);
});

/** In alice's page: fetch an API path with her token; the status and body, or the fetch error. */
const apiFetch = (b, p, init = {}) => b.page.evaluate(async ({ api, token, p, init }) => {
  try {
    const res = await fetch(api + p, { ...init, headers: { Authorization: 'Bearer ' + token, ...(init.headers ?? {}) } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch (err) {
    return { error: `${err.name}: ${err.message}` };
  }
}, { api: sb.url, token: b.token, p, init });

/** In b's page: open the signalling socket and authenticate; the first frame back, or the failure. */
const socketFirstFrame = (b) => b.page.evaluate(async ({ api, token }) => {
  const ws = new WebSocket(api.replace(/^http/, 'ws') + '/v1/webrtc', 'dialstack.webrtc.v1');
  try {
    return await new Promise((resolve) => {
      ws.onopen = () => ws.send(JSON.stringify({ type: 'authenticate', req_id: 'auth-1', token }));
      ws.onmessage = (e) => resolve(JSON.parse(e.data));
      ws.onerror = () => resolve({ failed: true });
      ws.onclose = (e) => resolve({ closed: e.code });
    });
  } finally {
    ws.close();
  }
}, { api: sb.url, token: b.token });

/**
 * A client that behaves on the wire as DialStack's SDK does (our code):
 * GET /v1/webrtc/ice-servers with a Bearer header; authenticate with no
 * session_id, ever; an outbound call's candidates trickled under the
 * call.create req_id, starting while ICE gathers (so before call.create
 * itself), until call.trying names the call.
 */
function wireClient() {
  const W = { frames: [], sent: [], errors: [], calls: [] };
  const gathered = (pc, ms) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
  W.send = (m) => { W.sent.push(m); W.ws.send(JSON.stringify(m)); };
  W.connect = async (api, token, extra = {}) => {
    W.api = api;
    W.token = token;
    const res = await fetch(api + '/v1/webrtc/ice-servers', { headers: { Authorization: 'Bearer ' + token } });
    W.iceServers = (await res.json()).ice_servers;
    return W.open(extra);
  };
  W.open = (extra = {}) => new Promise((resolve, reject) => {
    const ws = new WebSocket(W.api.replace(/^http/, 'ws') + '/v1/webrtc', 'dialstack.webrtc.v1');
    W.ws = ws;
    ws.onopen = () => W.send({ type: 'authenticate', req_id: 'auth-' + W.frames.length, token: W.token, ...extra });
    ws.onerror = () => reject(new Error('socket error'));
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      W.frames.push(m);
      if (m.type === 'error') W.errors.push(m);
      if (m.type === 'authenticated') resolve(m);
      W.onFrame(m);
    };
  });
  W.byId = (id) => W.calls.find((c) => c.id === id || c.reqId === id);
  W.onFrame = async (m) => {
    if (m.type === 'call.trying') {
      const c = W.byId(m.req_id);
      if (c) c.id = m.call_id;
      return;
    }
    const c = m.call_id && W.byId(m.call_id);
    if (!c) return;
    switch (m.type) {
      case 'sdp.answer': await c.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }); break;
      case 'ice.candidate':
        await c.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_m_line_index }).catch(() => {});
        break;
      case 'call.ringing': c.state = 'ringing'; break;
      case 'call.answered': case 'call.resumed': c.state = 'active'; break;
      case 'call.held': c.state = 'held'; break;
      case 'call.ended': c.state = 'ended'; c.reason = m.reason; break;
      default:
    }
  };
  W.call = async (destination) => {
    const reqId = 'req-' + Math.random().toString(36).slice(2);
    const pc = new RTCPeerConnection({ iceServers: W.iceServers });
    const c = { reqId, id: reqId, pc, state: 'trying', peerConnection: pc };
    W.calls.push(c);
    pc.addEventListener('icecandidate', (e) => W.send(e.candidate
      ? { type: 'ice.candidate', call_id: c.id, candidate: e.candidate.candidate, sdp_mid: e.candidate.sdpMid, sdp_m_line_index: e.candidate.sdpMLineIndex }
      : { type: 'ice.done', call_id: c.id }));
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    mic.getTracks().forEach((t) => pc.addTrack(t, mic));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    W.send({ type: 'call.create', req_id: reqId, destination, sdp: pc.localDescription.sdp });
    return c;
  };
  return W;
}

/** Installs the wire client in b's page (on the app origin) and connects it. */
async function wire(b, extra = {}) {
  await b.page.evaluate(`window.__w = (${wireClient.toString()})();`);
  return b.page.evaluate(([api, token, x]) => window.__w.connect(api, token, x), [sb.url, b.token, extra]);
}

const wireState = (b) => b.page.evaluate(() => ({
  calls: window.__w.calls.map((c) => ({ reqId: c.reqId, id: c.id, state: c.state, reason: c.reason })),
  errors: window.__w.errors,
}));

describe('CORS: an app on another origin', () => {
  it('fetches ICE servers with a Bearer header and opens the socket', async () => {
    expect(await alice.page.evaluate(() => location.origin)).toBe(sb.appOrigin);
    const ice = await apiFetch(alice, '/v1/webrtc/ice-servers');
    expect(ice.status).toBe(200);
    expect(Array.isArray(ice.body.ice_servers)).toBe(true);
    const first = await socketFirstFrame(alice);
    expect(first).toMatchObject({ type: 'authenticated', req_id: 'auth-1', user_id: sb.users.alice.id });
  });

  it('an origin not listed gets neither the API nor the socket', async () => {
    await alice.page.goto(`${sb.strangerOrigin}/`);
    const ice = await apiFetch(alice, '/v1/webrtc/ice-servers');
    expect(ice.error).toMatch(/TypeError/); // the browser refuses the response
    expect(await socketFirstFrame(alice)).not.toHaveProperty('type');
  });

  it('our own SDK, imported from the server, calls from the app origin and is heard', async () => {
    // A string, not a function: the test runner would rewrite import().
    await alice.page.evaluate(`(async () => {
      const { Phone } = await import(${JSON.stringify(sb.url + '/sdk/phone.js')});
      const phone = new Phone({ baseUrl: ${JSON.stringify(sb.url)}, token: ${JSON.stringify(alice.token)} });
      window.__t = { phone, events: [] };
      await phone.connect();
      window.__t.call = await phone.call('102');
    })()`);
    await takeIncoming(bob);
    await bob.page.evaluate(() => window.__t.call.answer());
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    await alice.page.evaluate(() => window.__t.call.hangup());
    await hangupAll(bob);
  });
});

describe('DialStack on the wire', () => {
  it('candidates sent under the req_id, before call.create and call.trying: the call connects, no error', async () => {
    const authed = await wire(alice);
    expect(authed).toMatchObject({ type: 'authenticated', reconnected: false });
    await alice.page.evaluate(async () => { window.__t = { call: await window.__w.call('102') }; });
    await takeIncoming(bob);
    await bob.page.evaluate(() => window.__t.call.answer());
    await expect.poll(async () => (await wireState(alice)).calls[0].state).toBe('active');
    const sent = await alice.page.evaluate(() => window.__w.sent.map((m) => ({ type: m.type, call_id: m.call_id, req_id: m.req_id })));
    const create = sent.findIndex((m) => m.type === 'call.create');
    const reqId = sent[create].req_id;
    // As DialStack does: candidates under the req_id, the first ones before call.create.
    expect(sent.findIndex((m) => m.type === 'ice.candidate' && m.call_id === reqId)).toBeLessThan(create);
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    // A stray candidate for an id nobody knows is dropped without a word.
    await alice.page.evaluate(() => window.__w.send({ type: 'ice.candidate', call_id: 'req-nobody', candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdp_mid: '0', sdp_m_line_index: 0 }));
    await alice.page.evaluate(() => window.__w.send({ type: 'ping', req_id: 'after-stray' }));
    await expect.poll(() => alice.page.evaluate(() => window.__w.frames.some((m) => m.type === 'pong'))).toBe(true);
    expect((await wireState(alice)).errors).toEqual([]);
    await alice.page.evaluate(() => window.__w.send({ type: 'call.hangup', call_id: window.__w.calls[0].id }));
    await expect.poll(async () => (await wireState(alice)).calls[0].state).toBe('ended');
    await hangupAll(bob);
  });

  it('a socket dropped mid-call: re-authenticate with no session_id, the call stays controllable and audible', async () => {
    const first = await wire(alice);
    await alice.page.evaluate(async () => { window.__t = { call: await window.__w.call('102') }; });
    await takeIncoming(bob);
    await bob.page.evaluate(() => window.__t.call.answer());
    await expect.poll(async () => (await wireState(alice)).calls[0].state).toBe('active');
    // The socket goes; DialStack reconnects after 0.5–1 s (its first backoff step).
    await alice.page.evaluate(() => new Promise((r) => { window.__w.ws.onclose = r; window.__w.ws.close(); }));
    await alice.page.waitForTimeout(700);
    const again = await alice.page.evaluate(() => window.__w.open());
    expect(again).toMatchObject({ type: 'authenticated', reconnected: true, session_id: first.session_id });
    expect(await alice.page.evaluate(() => window.__w.frames.some((m) => m.type === 'call.restored'))).toBe(false);
    await expectTone(bob, 'alice'); // the media never stopped
    await alice.page.evaluate(() => window.__w.send({ type: 'call.hold', call_id: window.__w.calls[0].id }));
    await expect.poll(async () => (await wireState(alice)).calls[0].state).toBe('held');
    await alice.page.evaluate(() => window.__w.send({ type: 'call.resume', call_id: window.__w.calls[0].id }));
    await expect.poll(async () => (await wireState(alice)).calls[0].state).toBe('active');
    await expectTone(alice, 'bob');
    await alice.page.evaluate(() => window.__w.send({ type: 'call.hangup', call_id: window.__w.calls[0].id }));
    await expect.poll(async () => (await wireState(alice)).calls[0]).toMatchObject({ state: 'ended', reason: 'hangup' });
    expect((await wireState(alice)).errors).toEqual([]);
    await hangupAll(bob);
  });

  it('directory, presence and emergency addresses from the app origin', async () => {
    const dir = await apiFetch(alice, '/v1/me/directory');
    expect(dir.status).toBe(200);
    expect(dir.body).toMatchObject({ object: 'list' });
    expect(dir.body.data.map((e) => e.display_name)).toEqual(expect.arrayContaining(['Alice', 'Bob', 'Carol']));
    const bobEntry = dir.body.data.find((e) => e.display_name === 'Bob');
    expect(bobEntry.user).toBe(sb.users.bob.id);

    // A JSON body from another origin is a preflighted request.
    const created = await apiFetch(alice, '/v1/me/emergency-addresses', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ address_number: '100', street: 'Main St', city: 'Springfield', state: 'IL', postal_code: '62701' }),
    });
    expect(created.status).toBe(201);
    const bad = await apiFetch(alice, '/v1/me/emergency-addresses', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ street: 'x' }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.details.field).toBeTruthy();

    await wire(alice, { emergency_address_id: created.body.id });
    const bound = await apiFetch(alice, `/v1/me/emergency-addresses/${created.body.id}`);
    expect(bound.body.registered_ip).toBe('127.0.0.1');
    expect(await alice.page.evaluate(() => window.__w.frames.some((m) => m.type === 'network.changed'))).toBe(false);

    await alice.page.evaluate((id) => window.__w.send({ type: 'presence.subscribe', req_id: 'p1', users: [id] }), sb.users.bob.id);
    await expect.poll(() => alice.page.evaluate(() => window.__w.frames.find((m) => m.type === 'presence.list')))
      .toMatchObject({ req_id: 'p1', users: [{ user_id: sb.users.bob.id, name: 'Bob', status: 'available', do_not_disturb: false }] });

    const gone = await apiFetch(alice, `/v1/me/emergency-addresses/${created.body.id}`, { method: 'DELETE' });
    expect(gone.status).toBe(204);
    expect((await wireState(alice)).errors).toEqual([]);
  });
});
