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
