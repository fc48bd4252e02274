// The Connection on its own: socket, authentication, reconnects, token
// refresh and pending requests, with no Phone and no calls.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection, type ConnectionOptions } from '../../src/connection.js';
import { PhoneError, SUBPROTOCOL } from '../../src/index.js';
import { AUTHENTICATED, FakeWebSocket, flush, makeToken } from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup(o: Partial<ConnectionOptions> = {}) {
  const sockets: FakeWebSocket[] = [];
  class WS extends FakeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const conn = new Connection({ url: 'wss://pbx.test/v1/webrtc', token: 'tok', WebSocket: WS as never, ...o });
  const events: string[] = [];
  const frames: Array<Record<string, unknown>> = [];
  const errors: PhoneError[] = [];
  conn
    .on('open', (m, resumed) => events.push(`open:${m.session_id}:${resumed}`))
    .on('reconnecting', (attempt) => events.push(`reconnecting:${attempt}`))
    .on('closed', (err, notify) => events.push(`closed:${err?.code ?? '-'}:${notify}`))
    .on('error', (err) => errors.push(err))
    .on('frame', (m) => frames.push(m as unknown as Record<string, unknown>));
  return {
    conn,
    sockets,
    events,
    frames,
    errors,
    get ws(): FakeWebSocket {
      return sockets[sockets.length - 1]!;
    },
  };
}

type Env = ReturnType<typeof setup>;

async function open(env: Env, frame: Record<string, unknown> = {}): Promise<void> {
  const p = env.conn.connect();
  env.ws.open();
  env.ws.receive({ ...AUTHENTICATED, ...frame });
  await p;
}

/** Drops the socket and lets the first reconnect attempt authenticate. */
async function reconnect(env: Env, frame: Record<string, unknown>): Promise<FakeWebSocket> {
  env.ws.drop();
  await vi.advanceTimersByTimeAsync(1_200);
  const ws = env.ws;
  ws.open();
  ws.receive({ ...AUTHENTICATED, ...frame });
  await flush();
  return ws;
}

function callRequest(env: Env) {
  const reply = vi.fn();
  const fail = vi.fn();
  const req_id = env.conn.reqId();
  env.conn.request(
    { type: 'call.create', req_id, destination: '105', sdp: 'offer' },
    { answer: 'call.trying', timeoutMs: 30_000, what: 'call request', reply, fail },
  );
  return { req_id, reply, fail };
}

describe('Connection: authentication', () => {
  it('authenticates with the token and no session id, then is open', async () => {
    const env = setup();
    expect(env.conn.state).toBe('idle');
    const p = env.conn.connect();
    expect(env.conn.state).toBe('connecting');
    expect(env.ws.url).toBe('wss://pbx.test/v1/webrtc');
    expect(env.ws.protocols).toBe(SUBPROTOCOL);
    env.ws.open();
    expect(env.ws.sent).toEqual([{ type: 'authenticate', req_id: 'r1', token: 'tok', features: ['quality', 'recording'] }]);
    env.ws.receive({ ...AUTHENTICATED, req_id: 'r1' });
    await p;
    expect(env.conn.state).toBe('open');
    expect(env.conn.sessionId).toBe('sess_1');
    expect(env.events).toEqual(['open:sess_1:false']);
    expect(env.frames).toEqual([]);
  });

  it('a fatal error before authenticated rejects connect() and emits no error event', async () => {
    const env = setup();
    const p = env.conn.connect();
    env.ws.open();
    env.ws.receive({ type: 'error', code: 'auth_failed', message: 'bad token', fatal: true });
    await expect(p).rejects.toMatchObject({ code: 'auth_failed', fatal: true });
    expect(env.conn.state).toBe('idle');
    expect(env.errors).toEqual([]);
    expect(env.events).toEqual([]);
  });

  it('close() during the first connect rejects it and closes without notice', async () => {
    const env = setup();
    const p = env.conn.connect();
    env.conn.close();
    await expect(p).rejects.toMatchObject({ code: 'not_connected' });
    expect(env.events).toEqual(['closed:-:false']);
    expect(env.ws.closedWith).toBe(1000);
  });

  it('forwards other frames, and consumes pong, auth.refreshed and stray authenticated', async () => {
    const env = setup();
    await open(env);
    env.ws.receive({ type: 'pong' });
    env.ws.receive({ type: 'auth.refreshed', req_id: 'r9' });
    env.ws.receive({ ...AUTHENTICATED, session_id: 'sess_x' });
    env.ws.receive({ type: 'call.ringing', call_id: 'call_1' });
    env.ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect(env.frames.map((f) => f.type)).toEqual(['call.ringing', 'error']);
    expect(env.conn.sessionId).toBe('sess_1');
  });
});

describe('Connection: reconnect', () => {
  it('keeps the session id: the next authenticate presents it', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    const ws = await reconnect(env, { reconnected: true });
    expect(env.sockets).toHaveLength(2);
    expect(ws.last('authenticate').session_id).toBe('sess_1');
    expect(env.conn.sessionId).toBe('sess_1');
    expect(env.conn.state).toBe('open');
    expect(env.events).toEqual(['open:sess_1:false', 'reconnecting:1', 'open:sess_1:true']);
  });

  it('sends frames queued while down once the session resumed, in order', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.ws.drop();
    expect(env.conn.state).toBe('reconnecting');
    env.conn.send({ type: 'call.hold', call_id: 'call_1' });
    env.conn.send({ type: 'call.mute', call_id: 'call_1' });
    await vi.advanceTimersByTimeAsync(1_200);
    const ws = env.ws;
    ws.open();
    let sentAtOpen: string[] = [];
    env.conn.on('open', () => (sentAtOpen = ws.types()));
    ws.receive({ ...AUTHENTICATED, reconnected: true });
    expect(sentAtOpen).toEqual(['authenticate', 'call.hold', 'call.mute']);
  });

  it('a fresh session (reconnected: false) drops the queue and takes the new id', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.ws.drop();
    env.conn.send({ type: 'call.hold', call_id: 'call_1' });
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ ...AUTHENTICATED, reconnected: false, session_id: 'sess_2' });
    expect(env.ws.types()).toEqual(['authenticate']);
    expect(env.conn.sessionId).toBe('sess_2');
    expect(env.events).toEqual(['open:sess_1:false', 'reconnecting:1', 'open:sess_2:true']);
  });

  it('connect() after close() starts a fresh session', async () => {
    const env = setup();
    await open(env);
    env.conn.close();
    expect(env.conn.state).toBe('closed');
    await open(env, { session_id: 'sess_9' });
    expect(env.ws.last('authenticate').session_id).toBeUndefined();
    expect(env.conn.sessionId).toBe('sess_9');
  });

  it('connect() while reconnecting resolves when the session is back', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.ws.drop();
    const p = env.conn.connect();
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ ...AUTHENTICATED, reconnected: true });
    await p;
    expect(env.conn.state).toBe('open');
  });

  it('a fatal error it will not retry is an error event, then closed', async () => {
    const env = setup();
    await open(env);
    env.ws.receive({ type: 'error', code: 'session_replaced', message: 'elsewhere', fatal: true });
    expect(env.errors.map((e) => e.code)).toEqual(['session_replaced']);
    expect(env.events).toEqual(['open:sess_1:false', 'closed:session_replaced:true']);
    expect(env.conn.state).toBe('closed');
  });

  it('with autoReconnect false a lost socket closes', async () => {
    const env = setup({ autoReconnect: false });
    await open(env);
    env.ws.drop();
    expect(env.events).toEqual(['open:sess_1:false', 'closed:connection_failed:true']);
  });

  it('queues at most 256 frames while down', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.ws.drop();
    for (let i = 0; i < 300; i++) env.conn.send({ type: 'call.hold', call_id: `call_${i}` });
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ ...AUTHENTICATED, reconnected: true });
    const holds = env.ws.ofType('call.hold');
    expect(holds).toHaveLength(256);
    expect(holds[255]!.call_id).toBe('call_255');
  });
});

describe('Connection: pending requests', () => {
  it('the answer with the same req_id settles the request and is not forwarded', async () => {
    const env = setup();
    await open(env);
    const { req_id, reply, fail } = callRequest(env);
    expect(env.ws.last('call.create').req_id).toBe(req_id);
    env.ws.receive({ type: 'call.trying', call_id: 'call_1', req_id });
    expect(reply).toHaveBeenCalledWith({ type: 'call.trying', call_id: 'call_1', req_id });
    expect(fail).not.toHaveBeenCalled();
    expect(env.frames).toEqual([]);
    // a second answer is no longer for anyone: forwarded
    env.ws.receive({ type: 'call.trying', call_id: 'call_1', req_id });
    expect(reply).toHaveBeenCalledTimes(1);
    expect(env.frames.map((f) => f.type)).toEqual(['call.trying']);
  });

  it('a frame of another type with the req_id does not settle it', async () => {
    const env = setup();
    await open(env);
    const { req_id, reply } = callRequest(env);
    env.ws.receive({ type: 'presence.list', req_id, users: [] });
    expect(reply).not.toHaveBeenCalled();
    expect(env.frames.map((f) => f.type)).toEqual(['presence.list']);
  });

  it("the server's error for the req_id fails it, and is not forwarded", async () => {
    const env = setup();
    await open(env);
    const { req_id, fail } = callRequest(env);
    env.ws.receive({ type: 'error', code: 'call_failed', message: 'no route', req_id });
    expect(fail).toHaveBeenCalledWith(expect.objectContaining({ code: 'call_failed', reqId: req_id, fatal: false }));
    expect(env.frames).toEqual([]);
  });

  it('times out', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    const { req_id, fail } = callRequest(env);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(fail).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const err = fail.mock.calls[0]![0] as PhoneError;
    expect(err).toMatchObject({ code: 'timeout', reqId: req_id, message: 'no answer to the call request in 30 s' });
  });

  it('is rejected with not_connected when the socket drops, before reconnecting', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    const { req_id, fail } = callRequest(env);
    const order: string[] = [];
    fail.mockImplementation(() => order.push('fail'));
    env.conn.on('reconnecting', () => order.push('reconnecting'));
    env.ws.drop();
    expect(fail).toHaveBeenCalledWith(expect.objectContaining({ code: 'not_connected', reqId: req_id }));
    expect(order).toEqual(['fail', 'reconnecting']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fail).toHaveBeenCalledTimes(1); // its timer is gone
  });

  it('is rejected with not_connected on close(), before closed', async () => {
    const env = setup();
    await open(env);
    const { fail } = callRequest(env);
    const order: string[] = [];
    fail.mockImplementation(() => order.push('fail'));
    env.conn.on('closed', () => order.push('closed'));
    env.conn.close();
    expect(fail).toHaveBeenCalledWith(expect.objectContaining({ code: 'not_connected' }));
    expect(order).toEqual(['fail', 'closed']);
  });
});

describe('Connection: token refresh', () => {
  it('setToken sends auth.refresh when open and uses the token for reconnects', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.conn.setToken('tok2');
    expect(env.conn.token).toBe('tok2');
    const refresh = env.ws.last('auth.refresh');
    expect(refresh).toEqual({ type: 'auth.refresh', req_id: expect.any(String), token: 'tok2' });
    env.ws.receive({ type: 'auth.refreshed', req_id: refresh.req_id as string });
    expect(env.frames).toEqual([]);
    const ws = await reconnect(env, { reconnected: true });
    expect(ws.last('authenticate').token).toBe('tok2');
  });

  it('setToken while down sends nothing; the reconnect uses it', async () => {
    vi.useFakeTimers();
    const env = setup();
    await open(env);
    env.ws.drop();
    env.conn.setToken('tok2');
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    expect(env.ws.types()).toEqual(['authenticate']);
    expect(env.ws.last('authenticate').token).toBe('tok2');
  });

  it('onTokenExpiring runs 60 s before exp and its token goes out as auth.refresh', async () => {
    vi.useFakeTimers();
    const now = Math.floor(Date.now() / 1000);
    const next = makeToken(now + 7200);
    const onTokenExpiring = vi.fn(async () => next);
    const env = setup({ token: makeToken(now + 600), onTokenExpiring });
    await open(env);
    await vi.advanceTimersByTimeAsync(539_000);
    expect(env.ws.ofType('auth.refresh')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(env.ws.last('auth.refresh').token).toBe(next);
    expect(env.conn.token).toBe(next);
  });

  it('a failing onTokenExpiring is an error event, and retried later', async () => {
    vi.useFakeTimers();
    const now = Math.floor(Date.now() / 1000);
    const onTokenExpiring = vi.fn(async (): Promise<string> => {
      throw new Error('no session');
    });
    const env = setup({ token: makeToken(now + 120), onTokenExpiring });
    await open(env);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(env.errors.map((e) => e.code)).toEqual(['token_refresh_failed']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onTokenExpiring).toHaveBeenCalledTimes(2);
    expect(env.ws.ofType('auth.refresh')).toHaveLength(0);
  });
});
