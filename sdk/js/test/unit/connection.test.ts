import { afterEach, describe, expect, it, vi } from 'vitest';
import { Phone, PhoneError, SUBPROTOCOL } from '../../src/index.js';
import {
  AUTHENTICATED,
  connect,
  dial,
  flush,
  ICE,
  jsonResponse,
  makeToken,
  ring,
  setup,
  type FakeWebSocket,
} from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('connect', () => {
  it('opens the socket with the subprotocol, authenticates and resolves on authenticated', async () => {
    const env = setup();
    const events: string[] = [];
    env.phone.on('connected', () => events.push('connected'));
    const p = env.phone.connect();
    expect(env.ws.url).toBe('wss://pbx.test/v1/webrtc');
    expect(env.ws.protocols).toBe(SUBPROTOCOL);
    expect(SUBPROTOCOL).toBe('dialstack.webrtc.v1');
    env.ws.open();
    const auth = env.ws.last('authenticate');
    expect(auth.session_id).toBeUndefined();
    expect(typeof auth.req_id).toBe('string');
    expect(env.phone.isConnected).toBe(false);
    env.ws.receive({ ...AUTHENTICATED, req_id: auth.req_id as string });
    await p;
    expect(env.phone.isConnected).toBe(true);
    expect(env.phone.userId).toBe('user_alice');
    expect(env.phone.accountId).toBe('acct_1');
    expect(env.phone.sessionId).toBe('sess_1');
    expect(events).toEqual(['connected']);
  });

  it('sends the token it was given', async () => {
    const token = makeToken(Math.floor(Date.now() / 1000) + 3600);
    const env = setup({ token });
    void env.phone.connect();
    env.ws.open();
    expect(env.ws.last('authenticate').token).toBe(token);
  });

  it('rejects with a fatal PhoneError on auth_failed and does not reconnect', async () => {
    const env = setup();
    const p = env.phone.connect();
    env.ws.open();
    env.ws.receive({ type: 'error', code: 'auth_failed', message: 'bad token', fatal: true });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PhoneError);
    expect(err).toMatchObject({ code: 'auth_failed', fatal: true, message: 'bad token', name: 'PhoneError' });
    expect(env.phone.isConnected).toBe(false);
    expect(env.ws.closedWith).toBe(1000);
    expect(env.sockets).toHaveLength(1);
  });

  it('rejects with connection_failed when the socket closes before authenticated', async () => {
    const env = setup();
    const p = env.phone.connect();
    env.ws.drop();
    await expect(p).rejects.toMatchObject({ code: 'connection_failed' });
    // and can try again
    const p2 = env.phone.connect();
    expect(env.sockets).toHaveLength(2);
    env.ws.open();
    env.ws.receive(AUTHENTICATED);
    await p2;
    expect(env.phone.isConnected).toBe(true);
  });

  it('rejects with connection_failed when the WebSocket constructor throws', async () => {
    const phone = new Phone({
      baseUrl: 'https://pbx.test',
      token: 't',
      iceServers: [],
      WebSocket: class {
        constructor() {
          throw new Error('SyntaxError');
        }
      } as never,
    });
    await expect(phone.connect()).rejects.toMatchObject({ code: 'connection_failed' });
  });

  it('times out when the server never authenticates', async () => {
    vi.useFakeTimers();
    const env = setup();
    const p = env.phone.connect();
    const caught = p.catch((e: unknown) => e);
    env.ws.open();
    await vi.advanceTimersByTimeAsync(15_000);
    expect(await caught).toMatchObject({ code: 'timeout' });
  });

  it('returns the same promise while connecting and resolves at once when connected', async () => {
    const env = setup();
    const a = env.phone.connect();
    const b = env.phone.connect();
    expect(a).toBe(b);
    expect(env.sockets).toHaveLength(1);
    env.ws.open();
    env.ws.receive(AUTHENTICATED);
    await a;
    await env.phone.connect();
    expect(env.sockets).toHaveLength(1);
  });

  it('requires a token', () => {
    expect(() => new Phone({ token: '', baseUrl: 'https://x' })).toThrow(PhoneError);
  });

  it('requires a url outside a page', () => {
    expect(() => new Phone({ token: 't' })).toThrow(/url or baseUrl/);
  });
});

describe('endpoints', () => {
  it.each([
    [{ baseUrl: 'https://pbx.example.com' }, 'wss://pbx.example.com/v1/webrtc', 'https://pbx.example.com/v1/webrtc/ice-servers'],
    [{ baseUrl: 'http://127.0.0.1:8080/' }, 'ws://127.0.0.1:8080/v1/webrtc', 'http://127.0.0.1:8080/v1/webrtc/ice-servers'],
    [{ baseUrl: 'https://h.example/pbx' }, 'wss://h.example/pbx/v1/webrtc', 'https://h.example/pbx/v1/webrtc/ice-servers'],
    [{ url: 'wss://pbx.example.com/v1/webrtc' }, 'wss://pbx.example.com/v1/webrtc', 'https://pbx.example.com/v1/webrtc/ice-servers'],
    [{ url: 'ws://localhost:9000/v1/webrtc' }, 'ws://localhost:9000/v1/webrtc', 'http://localhost:9000/v1/webrtc/ice-servers'],
    [
      { url: 'wss://sig.example.com/v1/webrtc', baseUrl: 'https://api.example.com' },
      'wss://sig.example.com/v1/webrtc',
      'https://api.example.com/v1/webrtc/ice-servers',
    ],
  ])('%j', async (opts, ws, ice) => {
    const env = setup({ baseUrl: undefined, ...opts });
    await connect(env);
    expect(env.ws.url).toBe(ws);
    expect(env.fetch).toHaveBeenCalledWith(ice, expect.anything());
  });
});

describe('ICE servers', () => {
  it('fetches them with the token as Bearer and uses them for calls', async () => {
    const token = makeToken(Math.floor(Date.now() / 1000) + 3600);
    const env = setup({ token });
    await connect(env);
    expect(env.fetch).toHaveBeenCalledTimes(1);
    const [, init] = env.fetch.mock.calls[0] as [string, RequestInit];
    expect((init.headers as Record<string, string>).Authorization).toBe(`Bearer ${token}`);
    await dial(env);
    expect(env.pc.config).toEqual({ iceServers: ICE });
    await dial(env, '106', 'call_2');
    expect(env.fetch).toHaveBeenCalledTimes(1); // cached until expires_at
  });

  it('falls back to no ICE servers when the request fails, and retries later', async () => {
    const fetch = vi.fn(async () => jsonResponse({ code: 'unauthorized' }, 401));
    const env = setup({ fetch });
    await connect(env);
    await dial(env);
    expect(env.pc.config).toEqual({ iceServers: [] });
    await dial(env, '106', 'call_2');
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('falls back when fetch rejects', async () => {
    const env = setup({
      fetch: vi.fn(async () => {
        throw new TypeError('network');
      }),
    });
    await connect(env);
    await dial(env);
    expect(env.pc.config).toEqual({ iceServers: [] });
  });

  it('uses the iceServers option without fetching', async () => {
    const servers = [{ urls: 'turn:turn.test', username: 'u', credential: 'p' }];
    const env = setup({ iceServers: servers });
    await connect(env);
    await dial(env);
    expect(env.fetch).not.toHaveBeenCalled();
    expect(env.pc.config).toEqual({ iceServers: servers });
  });
});

describe('token refresh', () => {
  it('calls onTokenExpiring 60 s before exp and sends auth.refresh', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const now = Math.floor(Date.now() / 1000);
    const next = makeToken(now + 7200);
    const onTokenExpiring = vi.fn(async () => next);
    const env = setup({ token: makeToken(now + 600), onTokenExpiring });
    await connect(env);
    await vi.advanceTimersByTimeAsync(539_000);
    expect(onTokenExpiring).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(onTokenExpiring).toHaveBeenCalledTimes(1);
    const refresh = env.ws.last('auth.refresh');
    expect(refresh.token).toBe(next);
    expect(typeof refresh.req_id).toBe('string');
    env.ws.receive({ type: 'auth.refreshed', req_id: refresh.req_id as string });
    // the next refresh follows the new token's exp
    await vi.advanceTimersByTimeAsync(7200_000 - 60_000 - 540_000 - 1_000);
    expect(onTokenExpiring).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(onTokenExpiring).toHaveBeenCalledTimes(2);
  });

  it('refreshes at once when the token is already close to exp', async () => {
    vi.useFakeTimers();
    const now = Math.floor(Date.now() / 1000);
    const onTokenExpiring = vi.fn(async () => makeToken(now + 3600));
    const env = setup({ token: makeToken(now + 30), onTokenExpiring });
    await connect(env);
    await vi.advanceTimersByTimeAsync(0);
    expect(onTokenExpiring).toHaveBeenCalledTimes(1);
    expect(env.ws.ofType('auth.refresh')).toHaveLength(1);
  });

  it('does nothing without onTokenExpiring or without a JWT', async () => {
    vi.useFakeTimers();
    const env = setup({ token: 'opaque-token' });
    await connect(env);
    await vi.advanceTimersByTimeAsync(10 * 24 * 3600_000);
    expect(env.ws.ofType('auth.refresh')).toHaveLength(0);
  });

  it('emits token_refresh_failed when the callback throws', async () => {
    vi.useFakeTimers();
    const now = Math.floor(Date.now() / 1000);
    const env = setup({
      token: makeToken(now + 120),
      onTokenExpiring: async () => {
        throw new Error('no session');
      },
    });
    const errors: PhoneError[] = [];
    env.phone.on('error', (e) => errors.push(e));
    await connect(env);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(errors.map((e) => e.code)).toEqual(['token_refresh_failed']);
    expect(env.ws.ofType('auth.refresh')).toHaveLength(0);
  });

  it('setToken sends auth.refresh; a refused token is an error event', async () => {
    const env = setup();
    const errors: PhoneError[] = [];
    env.phone.on('error', (e) => errors.push(e));
    await connect(env);
    env.phone.setToken('other');
    const refresh = env.ws.last('auth.refresh');
    expect(refresh.token).toBe('other');
    env.ws.receive({ type: 'error', code: 'invalid_message', message: 'bad token', req_id: refresh.req_id as string });
    expect(errors[0]).toMatchObject({ code: 'invalid_message', reqId: refresh.req_id, fatal: false });
    expect(env.phone.isConnected).toBe(true);
  });
});

describe('reconnect', () => {
  async function reconnectOnce(env: ReturnType<typeof setup>, frame: Record<string, unknown>): Promise<FakeWebSocket> {
    await vi.advanceTimersByTimeAsync(1_200);
    const ws = env.ws;
    ws.open();
    ws.receive({ ...AUTHENTICATED, ...frame });
    await flush();
    return ws;
  }

  it('backs off 1, 2, 4, 8, 16, 30, 30 s with jitter', async () => {
    vi.useFakeTimers();
    const env = setup();
    const attempts: Array<[number, number]> = [];
    env.phone.on('reconnecting', (a, d) => attempts.push([a, d]));
    await connect(env);
    env.ws.drop();
    expect(env.phone.isConnected).toBe(false);
    for (let i = 0; i < 7; i++) {
      const [, delay] = attempts[attempts.length - 1]!;
      const before = env.sockets.length;
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(env.sockets.length).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(env.sockets.length).toBe(before + 1);
      env.ws.drop(); // attempt fails
      await flush();
    }
    expect(attempts.map(([a]) => a)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const bases = [1, 2, 4, 8, 16, 30, 30, 30];
    attempts.forEach(([, d], i) => {
      expect(d).toBeGreaterThanOrEqual(bases[i]! * 800);
      expect(d).toBeLessThanOrEqual(bases[i]! * 1200);
    });
  });

  it('resumes the session: session_id, reconnected event, call.restored applied, queued frames sent', async () => {
    vi.useFakeTimers();
    const env = setup();
    const phoneEvents: string[] = [];
    env.phone.on('reconnecting', () => phoneEvents.push('reconnecting'));
    env.phone.on('reconnected', () => phoneEvents.push('reconnected'));
    env.phone.on('disconnected', () => phoneEvents.push('disconnected'));
    await connect(env);
    const call = await dial(env);
    env.ws.receive({ type: 'call.answered', call_id: call.id, answered_at: '2030-01-01T00:00:00Z' });
    const callEvents: string[] = [];
    call.on('restored', () => callEvents.push('restored'));
    call.on('held', (by) => callEvents.push(`held:${by}`));
    env.ws.drop();
    expect(call.state).toBe('active'); // calls survive the drop
    call.mute(); // while down: queued, and reconciled after restore
    const ws = await reconnectOnce(env, { reconnected: true });
    expect(ws.last('authenticate').session_id).toBe('sess_1');
    expect(phoneEvents).toEqual(['reconnecting', 'reconnected']);
    expect(ws.types()).toContain('call.mute');
    ws.sent.length = 0;
    ws.receive({
      type: 'call.restored',
      call_id: call.id,
      state: 'held',
      held_by: 'remote',
      from: 'user_alice',
      from_name: '',
      to: '105',
      direction: 'outbound',
      answered_at: '2030-01-01T00:00:00Z',
      muted: false,
    });
    expect(call.state).toBe('held');
    expect(call.heldBy).toBe('remote');
    expect(call.isMuted).toBe(true);
    expect(ws.last('call.mute').call_id).toBe(call.id); // local choice wins
    expect(callEvents).toEqual(['held:remote', 'restored']);
    expect(env.phone.activeCalls).toEqual([call]);
  });

  it('a ringing outbound call answered while down gets answered on restore', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    const call = await dial(env);
    env.ws.receive({ type: 'call.ringing', call_id: call.id });
    const events: string[] = [];
    call.on('answered', () => events.push('answered'));
    call.on('restored', () => events.push('restored'));
    env.ws.drop();
    const ws = await reconnectOnce(env, { reconnected: true });
    ws.receive({
      type: 'call.restored',
      call_id: call.id,
      state: 'active',
      from: 'user_alice',
      from_name: '',
      to: '105',
      direction: 'outbound',
      answered_at: '2030-01-01T00:00:05Z',
      muted: false,
    });
    expect(call.state).toBe('active');
    expect(call.answeredAt?.toISOString()).toBe('2030-01-01T00:00:05.000Z');
    expect(events).toEqual(['answered', 'restored']);
  });

  it('a call.ended replayed after the restore ends the call', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    const call = await dial(env);
    env.ws.drop();
    const ws = await reconnectOnce(env, { reconnected: true });
    ws.receive({ type: 'call.ended', call_id: call.id, reason: 'busy', duration_seconds: null });
    expect(call.state).toBe('ended');
    expect(call.endReason).toBe('busy');
  });

  it('hangs up a restored call it does not know', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    env.ws.drop();
    const ws = await reconnectOnce(env, { reconnected: true });
    ws.receive({
      type: 'call.restored',
      call_id: 'call_ghost',
      state: 'active',
      from: 'x',
      from_name: '',
      to: 'y',
      direction: 'outbound',
      answered_at: null,
      muted: false,
    });
    expect(ws.last('call.hangup').call_id).toBe('call_ghost');
  });

  it('reconnected:false ends the calls locally with hangup and drops queued frames', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    const out = await dial(env);
    const inbound = await ring(env);
    const reasons: string[] = [];
    out.on('ended', (r) => reasons.push(`out:${r}`));
    inbound.on('ended', (r) => reasons.push(`in:${r}`));
    env.ws.drop();
    out.hold();
    const ws = await reconnectOnce(env, { reconnected: false, session_id: 'sess_2' });
    expect(reasons).toEqual(['out:hangup', 'in:hangup']);
    expect(out.state).toBe('ended');
    expect(env.phone.activeCalls).toEqual([]);
    expect(ws.types()).not.toContain('call.hold');
    expect(env.phone.sessionId).toBe('sess_2');
    expect(env.pcs.every((pc) => pc.closed)).toBe(true);
  });

  it('a pending call request fails when the connection drops', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    const p = env.phone.call('105');
    const caught = p.catch((e: unknown) => e);
    await flush();
    env.ws.drop();
    expect(await caught).toMatchObject({ code: 'not_connected' });
    expect(env.pc.closed).toBe(true);
    expect(env.streams[0]!.tracks[0]!.stopped).toBe(true);
  });

  it('does not reconnect with autoReconnect false', async () => {
    vi.useFakeTimers();
    const env = setup({ autoReconnect: false });
    const disconnected = vi.fn();
    env.phone.on('disconnected', disconnected);
    await connect(env);
    const call = await dial(env);
    env.ws.drop();
    expect(disconnected).toHaveBeenCalledWith(expect.objectContaining({ code: 'connection_failed' }));
    expect(call.state).toBe('ended');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(env.sockets).toHaveLength(1);
  });

  it.each(['session_revoked', 'session_replaced', 'session_limit', 'auth_expired'])(
    'does not reconnect after fatal %s',
    async (code) => {
      vi.useFakeTimers();
      const env = setup();
      const errors: string[] = [];
      const disconnected = vi.fn();
      env.phone.on('error', (e) => errors.push(e.code));
      env.phone.on('disconnected', disconnected);
      await connect(env);
      env.ws.receive({ type: 'error', code, message: code, fatal: true });
      expect(errors).toEqual([code]);
      expect(disconnected).toHaveBeenCalledWith(expect.objectContaining({ code, fatal: true }));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(env.sockets).toHaveLength(1);
    },
  );

  it.each(['going_away', 'idle_timeout', 'slow_consumer'])('reconnects after fatal %s', async (code) => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    env.ws.receive({ type: 'error', code, message: code, fatal: true });
    await vi.advanceTimersByTimeAsync(1_200);
    expect(env.sockets).toHaveLength(2);
  });

  it('after auth_expired with onTokenExpiring, reconnects with a fresh token', async () => {
    vi.useFakeTimers();
    const now = Math.floor(Date.now() / 1000);
    const fresh = makeToken(now + 3600);
    const env = setup({ token: makeToken(now + 61), onTokenExpiring: async () => fresh });
    await connect(env);
    await vi.advanceTimersByTimeAsync(1_000); // the refresh fires (exp within 60 s)...
    env.ws.receive({ type: 'error', code: 'auth_expired', message: 'expired', fatal: true }); // ...but too late
    await vi.advanceTimersByTimeAsync(1_200);
    const ws = env.ws;
    ws.open();
    expect(ws.last('authenticate').token).toBe(fresh);
  });

  it('gives up when the reconnect is refused with auth_failed', async () => {
    vi.useFakeTimers();
    const env = setup();
    const disconnected = vi.fn();
    env.phone.on('disconnected', disconnected);
    await connect(env);
    env.ws.drop();
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ type: 'error', code: 'auth_failed', message: 'revoked', fatal: true });
    await flush();
    expect(disconnected).toHaveBeenCalledWith(expect.objectContaining({ code: 'auth_failed' }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(env.sockets).toHaveLength(2);
  });

  it('connect() while reconnecting resolves on reconnected', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    env.ws.drop();
    const p = env.phone.connect();
    await reconnectOnce(env, { reconnected: true });
    await p;
    expect(env.phone.isConnected).toBe(true);
  });

  it('call() while reconnecting rejects with not_connected', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    env.ws.drop();
    await expect(env.phone.call('105')).rejects.toMatchObject({ code: 'not_connected' });
  });
});

describe('disconnect', () => {
  it('hangs up every call, closes the socket and emits disconnected', async () => {
    vi.useFakeTimers();
    const env = setup();
    const disconnected = vi.fn();
    env.phone.on('disconnected', disconnected);
    await connect(env);
    const a = await dial(env, '105', 'call_a');
    const b = await ring(env, 'call_b');
    const ws = env.ws;
    env.phone.disconnect();
    expect(ws.ofType('call.hangup').map((f) => f.call_id)).toEqual(['call_a', 'call_b']);
    expect(ws.closedWith).toBe(1000);
    expect(a.state).toBe('ended');
    expect(b.endReason).toBe('hangup');
    expect(env.phone.isConnected).toBe(false);
    expect(env.phone.activeCalls).toEqual([]);
    expect(disconnected).toHaveBeenCalledTimes(1);
    expect(disconnected.mock.calls[0]).toEqual([undefined]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(env.sockets).toHaveLength(1);
    env.phone.disconnect(); // idempotent
    expect(disconnected).toHaveBeenCalledTimes(1);
  });

  it('stops a pending reconnect', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    env.ws.drop();
    env.phone.disconnect();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(env.sockets).toHaveLength(1);
  });

  it('can connect again afterwards, as a fresh session', async () => {
    const env = setup();
    await connect(env);
    env.phone.disconnect();
    await connect(env, { session_id: 'sess_9' });
    expect(env.ws.last('authenticate').session_id).toBeUndefined();
    expect(env.phone.sessionId).toBe('sess_9');
  });

  it('rejects a connect in progress', async () => {
    const env = setup();
    const p = env.phone.connect();
    env.phone.disconnect();
    await expect(p).rejects.toBeInstanceOf(PhoneError);
  });
});

describe('frames', () => {
  it('ignores malformed frames, pongs and unknown call ids', async () => {
    const env = setup();
    await connect(env);
    env.ws.onmessage?.({ data: 'not json' });
    env.ws.onmessage?.({ data: '42' });
    env.ws.receive({ type: 'pong' });
    env.ws.receive({ type: 'call.ringing', call_id: 'call_nope' });
    expect(env.phone.isConnected).toBe(true);
  });

  it('emits errors without a call as phone errors', async () => {
    const env = setup();
    const errors: PhoneError[] = [];
    env.phone.on('error', (e) => errors.push(e));
    await connect(env);
    env.ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'rate_limited', fatal: false });
  });
});
