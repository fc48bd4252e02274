import { SUBPROTOCOL } from './protocol.gen.js';
import type * as P from './protocol.gen.js';
import { Emitter } from './emitter.js';
import { PhoneError, type PhoneErrorCode } from './errors.js';
import { jwtExpiry } from './token.js';

/**
 * Where a connection is.
 *
 * ```
 *  idle ──connect()──▶ connecting ──authenticated──▶ open ──lost──▶ reconnecting
 *   ▲                      │ failed                   ▲                 │
 *   └──────────────────────┘                          └──authenticated──┘
 *  any state ──close(), or a failure it will not retry──▶ closed (connect() starts again)
 * ```
 * @internal
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** How to reach and authenticate to the server. @internal */
export interface ConnectionOptions {
  /** The signalling WebSocket URL. */
  url: string;
  token: string;
  onTokenExpiring?: () => Promise<string>;
  autoReconnect?: boolean;
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
}

/** Events of a {@link Connection}. @internal */
export interface ConnectionEvents {
  /**
   * Authenticated: by `connect()` (`resumed` false) or by a reconnect. Frames
   * queued while down were sent already when the server resumed the session
   * (`msg.reconnected`), and dropped otherwise.
   */
  open: [msg: P.Authenticated, resumed: boolean];
  /** The socket was lost; attempt `attempt` starts in `delayMs`. */
  reconnecting: [attempt: number, delayMs: number];
  /**
   * Closed for good: `close()`, or a failure it will not retry. `notify` is
   * false when `close()` cancelled the first `connect()`.
   */
  closed: [error: PhoneError | undefined, notify: boolean];
  /** A fatal server error while connected, or a failed token refresh. */
  error: [error: PhoneError];
  /** Any other server frame, including errors that answer no pending request. */
  frame: [msg: P.ServerMessage];
}

type Reply<K extends P.ServerMessage['type']> = Extract<P.ServerMessage, { type: K }>;

/** A request waiting for its answer: see {@link Connection.request}. @internal */
export interface RequestOptions<K extends P.ServerMessage['type']> {
  /** The frame type that answers it, with the same `req_id`. */
  answer: K;
  timeoutMs: number;
  /** For the timeout error: "no answer to the {what} in N s". */
  what: string;
  reply(msg: Reply<K>): void;
  fail(err: PhoneError): void;
}

interface Pending {
  answer: string;
  reply(msg: P.ServerMessage): void;
  fail(err: PhoneError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: PhoneError) => void;
}

const BACKOFF_S = [1, 2, 4, 8, 16, 30];
const AUTH_TIMEOUT_MS = 15_000;
const REFRESH_LEAD_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_QUEUE = 256;
/** Fatal codes after which reconnecting cannot help. */
const FINAL: PhoneErrorCode[] = ['auth_failed', 'auth_expired', 'session_revoked', 'session_replaced', 'session_limit'];

/**
 * One authenticated signalling socket that outlives its sockets: it
 * authenticates (`authenticate`, then `auth.refresh` before the token
 * expires), reconnects with backoff presenting the session id, queues frames
 * while down, and matches requests to their answers by `req_id`. It knows
 * nothing of calls: every other frame is a `frame` event.
 * @internal
 */
export class Connection extends Emitter<ConnectionEvents> {
  #opts: ConnectionOptions;
  #token: string;
  #state: ConnectionState = 'idle';
  #ws: WebSocket | null = null;
  /** The connect() or reconnect attempt waiting for `authenticated`. */
  #waiter: Waiter | undefined;
  #connecting: Promise<void> | undefined;
  #attempt = 0;
  #sessionId = '';
  #reqSeq = 0;
  #pending = new Map<string, Pending>();
  #queue: P.ClientMessage[] = [];
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ConnectionOptions) {
    super();
    this.#opts = options;
    this.#token = options.token;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The device session id; a reconnect presents it to resume. */
  get sessionId(): string {
    return this.#sessionId;
  }

  /** The current token (refreshed by `onTokenExpiring` or {@link Connection.setToken}). */
  get token(): string {
    return this.#token;
  }

  /**
   * Opens the socket and authenticates as a fresh session; resolves on
   * `authenticated`. While open it resolves at once; while connecting it
   * returns the same promise; while reconnecting it waits for the outcome.
   */
  connect(): Promise<void> {
    switch (this.#state) {
      case 'open':
        return Promise.resolve();
      case 'connecting':
        return this.#connecting!;
      case 'reconnecting':
        return new Promise((resolve, reject) => {
          const ok = (): void => {
            this.off('closed', ko);
            resolve();
          };
          const ko = (err?: PhoneError): void => {
            this.off('open', ok);
            reject(err ?? new PhoneError('not_connected', 'disconnected'));
          };
          this.once('open', ok).once('closed', ko);
        });
    }
    this.#state = 'connecting';
    this.#sessionId = '';
    this.#connecting = this.#open().then(
      () => {
        this.#connecting = undefined;
      },
      (err: PhoneError) => {
        this.#connecting = undefined;
        this.#state = 'idle';
        throw err;
      },
    );
    return this.#connecting;
  }

  /** Closes the socket for good and stops reconnecting; emits `closed`. */
  close(): void {
    if (this.#state !== 'idle' && this.#state !== 'closed') this.#shutdown(undefined);
  }

  /** Sends now when open, queues while reconnecting, else drops. */
  send(msg: P.ClientMessage): void {
    if (this.#state === 'open' && this.#ws) this.#write(this.#ws, msg);
    else if (this.#state === 'reconnecting' && this.#queue.length < MAX_QUEUE) this.#queue.push(msg);
  }

  /**
   * Sends `msg` and waits for its answer: `reply` gets the `answer` frame
   * with the same `req_id`; `fail` gets the server's error for it, a
   * `timeout`, or `not_connected` when the socket is lost first.
   */
  request<K extends P.ServerMessage['type']>(msg: P.ClientMessage & { req_id: string }, init: RequestOptions<K>): void {
    const reqId = msg.req_id;
    const timer = setTimeout(
      () => this.#settle(reqId, new PhoneError('timeout', `no answer to the ${init.what} in ${init.timeoutMs / 1000} s`, { reqId })),
      init.timeoutMs,
    );
    this.#pending.set(reqId, { answer: init.answer, reply: init.reply as Pending['reply'], fail: init.fail, timer });
    this.send(msg);
  }

  /** A fresh `req_id`. */
  reqId(): string {
    return `r${++this.#reqSeq}`;
  }

  /** Replaces the token: sent as `auth.refresh` when open, used for later reconnects. */
  setToken(token: string): void {
    this.#token = token;
    if (this.#state === 'open') this.send({ type: 'auth.refresh', req_id: this.reqId(), token });
    this.#scheduleRefresh(true);
  }

  // ---- socket ------------------------------------------------------------

  /** Opens a socket and authenticates; resolves on `authenticated`. */
  #open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const WS = this.#opts.WebSocket ?? globalThis.WebSocket;
      let ws: WebSocket;
      try {
        ws = new WS(this.#opts.url, SUBPROTOCOL);
      } catch (e) {
        reject(new PhoneError('connection_failed', `cannot open ${this.#opts.url}`, { cause: e }));
        return;
      }
      this.#ws = ws;
      this.#waiter = { resolve, reject };
      ws.onopen = () => {
        // features: the optional frames this SDK understands (call.quality,
        // call.recording); servers ignore names they do not know.
        const auth: P.Authenticate = { type: 'authenticate', req_id: this.reqId(), token: this.#token, features: ['quality', 'recording'] };
        if (this.#sessionId) auth.session_id = this.#sessionId;
        this.#write(ws, auth);
      };
      ws.onmessage = (ev: MessageEvent) => {
        if (ws === this.#ws) this.#onFrame(ev.data);
      };
      ws.onclose = (ev: CloseEvent) => {
        if (ws !== this.#ws) return;
        this.#down(new PhoneError('connection_failed', `connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`));
      };
      ws.onerror = () => {}; // close follows
      this.#authTimer = setTimeout(() => {
        if (ws === this.#ws) this.#down(new PhoneError('timeout', 'no authentication answer'));
      }, AUTH_TIMEOUT_MS);
    });
  }

  #onFrame(data: unknown): void {
    let msg: P.ServerMessage;
    try {
      msg = JSON.parse(String(data)) as P.ServerMessage;
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    switch (msg.type) {
      case 'authenticated':
        return this.#authenticated(msg);
      case 'error':
        return this.#onError(msg);
      case 'auth.refreshed':
      case 'pong':
        return;
    }
    const reqId = 'req_id' in msg ? msg.req_id : undefined;
    const p = reqId ? this.#pending.get(reqId) : undefined;
    if (!p || p.answer !== msg.type) return this.emit('frame', msg);
    this.#pending.delete(reqId!);
    clearTimeout(p.timer);
    p.reply(msg);
  }

  #authenticated(msg: P.Authenticated): void {
    if (!this.#waiter) return; // only the answer to our authenticate counts
    const resumed = this.#state === 'reconnecting';
    clearTimeout(this.#authTimer);
    this.#state = 'open';
    this.#attempt = 0;
    this.#sessionId = msg.session_id;
    this.#scheduleRefresh(false);
    const queued = this.#queue.splice(0);
    // A fresh session has none of the old one's calls: its frames are moot.
    if (resumed && msg.reconnected) for (const m of queued) this.send(m);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.emit('open', msg, resumed);
    waiter.resolve();
  }

  #onError(msg: P.Error): void {
    if (msg.fatal) {
      const err = PhoneError.fromFrame(msg);
      if (this.#state !== 'connecting') this.emit('error', err);
      return this.#down(err);
    }
    if (msg.req_id && this.#pending.has(msg.req_id)) return this.#settle(msg.req_id, PhoneError.fromFrame(msg));
    this.emit('frame', msg);
  }

  /** The socket is gone (closed, fatal error or timeout). */
  #down(err: PhoneError): void {
    if (!this.#detach()) return;
    clearTimeout(this.#authTimer);
    clearTimeout(this.#refreshTimer);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) return waiter.reject(err); // connect() or a reconnect attempt handles it
    this.#failPending();
    if (this.#opts.autoReconnect !== false && this.#retryable(err)) {
      this.#state = 'reconnecting';
      this.#reconnect();
    } else {
      this.#shutdown(err);
    }
  }

  /** Lets go of the socket; false when there was none. */
  #detach(): boolean {
    const ws = this.#ws;
    if (!ws) return false;
    this.#ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
    return true;
  }

  #retryable(err: PhoneError): boolean {
    if (err.code === 'auth_expired') return !!this.#opts.onTokenExpiring;
    return !FINAL.includes(err.code);
  }

  #reconnect(): void {
    this.#attempt++;
    const base = BACKOFF_S[Math.min(this.#attempt, BACKOFF_S.length) - 1]! * 1000;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.emit('reconnecting', this.#attempt, delay);
    this.#reconnectTimer = setTimeout(() => {
      this.#freshToken()
        .then(() => (this.#state === 'reconnecting' ? this.#open() : undefined))
        .catch((err: PhoneError) => {
          if (this.#state !== 'reconnecting') return;
          if (this.#retryable(err)) this.#reconnect();
          else this.#shutdown(err);
        });
    }, delay);
  }

  /** Before a reconnect: swap an expired (or nearly) token for a fresh one. */
  async #freshToken(): Promise<void> {
    const exp = jwtExpiry(this.#token);
    const get = this.#opts.onTokenExpiring;
    if (!get || exp === undefined || exp * 1000 - Date.now() > 5_000) return;
    try {
      this.#token = await get();
    } catch (e) {
      throw new PhoneError('token_refresh_failed', 'onTokenExpiring failed', { cause: e });
    }
  }

  /** Ends everything: socket, timers, queue, waiters; then `closed`. */
  #shutdown(err: PhoneError | undefined): void {
    const notify = this.#state !== 'connecting';
    this.#detach();
    this.#state = 'closed';
    clearTimeout(this.#authTimer);
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#reconnectTimer);
    this.#queue = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(err ?? new PhoneError('not_connected', 'disconnected'));
    this.#failPending();
    this.emit('closed', err, notify);
  }

  #write(ws: WebSocket, msg: P.ClientMessage): void {
    try {
      ws.send(JSON.stringify(msg));
    } catch {
      // closing: onclose follows
    }
  }

  // ---- requests ------------------------------------------------------------

  /** Fails the pending request `reqId`. */
  #settle(reqId: string, err: PhoneError): void {
    const p = this.#pending.get(reqId);
    if (!p) return;
    this.#pending.delete(reqId);
    clearTimeout(p.timer);
    p.fail(err);
  }

  #failPending(): void {
    for (const reqId of [...this.#pending.keys()]) {
      this.#settle(reqId, new PhoneError('not_connected', 'the connection was lost before the server answered', { reqId }));
    }
  }

  // ---- token refresh -------------------------------------------------------

  #scheduleRefresh(afterRefresh: boolean): void {
    clearTimeout(this.#refreshTimer);
    const exp = jwtExpiry(this.#token);
    if (!this.#opts.onTokenExpiring || exp === undefined || this.#state !== 'open') return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(afterRefresh ? 10_000 : 0, exp * 1000 - REFRESH_LEAD_MS - Date.now()));
    this.#refreshTimer = setTimeout(() => void this.#refresh(), delay);
  }

  async #refresh(): Promise<void> {
    let token: string;
    try {
      token = await this.#opts.onTokenExpiring!();
      if (!token) throw new Error('no token');
    } catch (e) {
      this.emit('error', new PhoneError('token_refresh_failed', 'onTokenExpiring failed', { cause: e }));
      this.#scheduleRefresh(true); // try again in a while, if the token still lives
      return;
    }
    this.setToken(token);
  }
}
