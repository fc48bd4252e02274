import { SUBPROTOCOL } from './protocol.gen.js';
import type * as P from './protocol.gen.js';
import { Call, type CallHost } from './call.js';
import { Emitter } from './emitter.js';
import { PhoneError, type PhoneErrorCode } from './errors.js';
import { playStream, startRingback, stopTracks, type Sound } from './media.js';
import { jwtExpiry } from './token.js';

/** Options of {@link Phone}. Give `url` or `baseUrl` (or neither, in a page served by the server). */
export interface PhoneOptions {
  /** The signalling WebSocket URL, e.g. `wss://pbx.example.com/v1/webrtc`. */
  url?: string;
  /**
   * The server's HTTP(S) base URL, e.g. `https://pbx.example.com`; the socket
   * URL becomes `wss://pbx.example.com/v1/webrtc`. Defaults to the page's
   * origin when neither `url` nor `baseUrl` is given.
   */
  baseUrl?: string;
  /** The user token (`client_secret` from `POST /v1/user_sessions`). */
  token: string;
  /**
   * Called about 60 s before the token's `exp`; the token it resolves with is
   * sent as `auth.refresh` and used for later reconnects.
   */
  onTokenExpiring?: () => Promise<string>;
  /**
   * Reconnect after a lost connection (backoff 1, 2, 4, 8, 16, 30 s with
   * jitter), resuming the session's calls. Default true.
   */
  autoReconnect?: boolean;
  /** ICE servers for every call. Default: fetched from `GET /v1/webrtc/ice-servers`. */
  iceServers?: RTCIceServer[];
  /** Microphone constraints passed to getUserMedia. Default `true`. */
  audioConstraints?: MediaTrackConstraints;
  /** Play a ringback tone while an outbound call rings. Default true. */
  ringback?: boolean;
  /** Play remote audio through an SDK-owned audio element. Default true. */
  autoPlayRemoteAudio?: boolean;
  /**
   * Ringtone hook for inbound calls: called when a call starts ringing;
   * the function it returns is called when the ringing stops (answer,
   * reject, hangup, end).
   */
  ringtone?: (call: Call) => (() => void) | void;
  /** How long to wait for ICE gathering before sending an SDP, in ms. Default 2000. */
  iceGatheringTimeout?: number;
  /** `fetch` to use (tests). Default: the global one. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** WebSocket constructor to use (tests). Default: the global one. */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  /** RTCPeerConnection constructor to use (tests). Default: the global one. */
  RTCPeerConnection?: new (config?: RTCConfiguration) => RTCPeerConnection;
  /** getUserMedia to use (tests). Default: `navigator.mediaDevices.getUserMedia`. */
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  /** AudioContext constructor for the ringback tone. Default: the global one. */
  AudioContext?: new () => AudioContext;
  /** Audio element constructor for remote audio. Default: the global `Audio`. */
  Audio?: new () => HTMLAudioElement;
}

/** Options of {@link Phone.call}. */
export interface CallOptions {
  /** Caller ID to present: an E.164 number the account owns. */
  callerId?: string;
}

/** A presence frame: the snapshot after a subscribe, or one user's change. */
export type PresenceEvent = P.PresenceList | P.PresenceUpdate;

/** Events of a {@link Phone} and their listener arguments. */
export interface PhoneEvents {
  /** `connect()` succeeded. */
  connected: [];
  /** The phone is disconnected for good: `disconnect()`, or a failure it will not retry. */
  disconnected: [error?: PhoneError];
  /** The connection was lost; attempt `attempt` starts in `delayMs`. */
  reconnecting: [attempt: number, delayMs: number];
  /** The connection is back; calls follow with `restored` (or end when the session was lost). */
  reconnected: [];
  /** An inbound call is ringing. */
  incoming: [call: Call];
  /** Presence of subscribed users: a `presence.list` snapshot or a `presence.update`. */
  presence: [event: PresenceEvent];
  /**
   * A server error or SDK failure not tied to a pending request (but not a
   * `call_not_found` about a call that already ended here).
   */
  error: [error: PhoneError];
}

type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

interface Pending {
  call: Call;
  /** For a consult call (attended transfer): the original call. */
  original?: Call;
  resolve: (call: Call) => void;
  reject: (err: PhoneError) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: PhoneError) => void;
}

const BACKOFF_S = [1, 2, 4, 8, 16, 30];
const CALL_TIMEOUT_MS = 30_000;
const AUTH_TIMEOUT_MS = 15_000;
const ICE_FETCH_TIMEOUT_MS = 5_000;
const REFRESH_LEAD_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_QUEUE = 256;
const PRESENCE_BATCH = 100;
/** How many ended call ids to remember (see #gone). */
const GONE_MAX = 64;
/** Fatal codes after which reconnecting cannot help. */
const FINAL: PhoneErrorCode[] = ['auth_failed', 'auth_expired', 'session_revoked', 'session_replaced', 'session_limit'];

/**
 * A softphone: one signalling connection to Switchboard carrying any number
 * of calls.
 *
 * ```ts
 * const phone = new Phone({ baseUrl: 'https://pbx.example.com', token });
 * await phone.connect();
 * phone.on('incoming', (call) => call.answer());
 * const call = await phone.call('105');
 * ```
 */
export class Phone extends Emitter<PhoneEvents> {
  #opts: PhoneOptions;
  #wsUrl: string;
  #httpBase: string;
  #token: string;
  #state: State = 'idle';
  #ws: WebSocket | null = null;
  #waiter: Waiter | undefined;
  #connecting: Promise<void> | undefined;
  #attempt = 0;
  #sessionId = '';
  #userId = '';
  #accountId = '';
  #reqSeq = 0;
  #calls = new Map<string, Call>();
  #listed = new WeakSet<Call>();
  /** Ids of calls that ended here: a late call_not_found about them is no news. */
  #gone: string[] = [];
  #pending = new Map<string, Pending>();
  #queue: P.ClientMessage[] = [];
  #presenceUsers = new Set<string>();
  #ice: Promise<RTCIceServer[]> | undefined;
  #iceExpires = 0;
  #audioCtx: AudioContext | undefined;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #host: CallHost;

  /**
   * Creates a phone; nothing is opened until {@link Phone.connect}.
   *
   * @throws PhoneError `invalid_argument` without a token, or without any
   *   URL outside a page
   */
  constructor(options: PhoneOptions) {
    super();
    if (!options?.token) throw new PhoneError('invalid_argument', 'Phone: token is required');
    this.#opts = options;
    this.#token = options.token;
    [this.#wsUrl, this.#httpBase] = endpoints(options);
    this.#host = {
      send: (msg) => this.#send(msg),
      reqId: () => this.#reqId(),
      online: () => this.#state === 'open',
      iceTimeout: options.iceGatheringTimeout ?? 2000,
      getUserMedia: (callId) => this.#microphone(callId),
      consult: (original, destination) => {
        this.#audioContext(); // in the app's gesture, for the consult call's ringback
        return this.#place(destination, undefined, original);
      },
      announce: (call) => this.#announce(call),
      forget: (call) => {
        if (this.#calls.get(call.id) !== call) return;
        this.#calls.delete(call.id);
        this.#gone.push(call.id);
        if (this.#gone.length > GONE_MAX) this.#gone.shift();
      },
      fail: (err) => this.emit('error', err),
      ringback: () => this.#ringback(),
      play: (stream) => {
        const A = this.#opts.Audio ?? globalThis.Audio;
        return this.#opts.autoPlayRemoteAudio === false || !A ? undefined : playStream(A, stream);
      },
    };
  }

  /** True while the phone has an authenticated connection. */
  get isConnected(): boolean {
    return this.#state === 'open';
  }

  /** The authenticated user's id (`user_…`), once connected. */
  get userId(): string {
    return this.#userId;
  }

  /** The authenticated user's account id, once connected. */
  get accountId(): string {
    return this.#accountId;
  }

  /** The device session id; a reconnect presents it to resume calls. */
  get sessionId(): string {
    return this.#sessionId;
  }

  /** Calls that are ringing, trying, active or held (not ended). */
  get activeCalls(): Call[] {
    return [...this.#calls.values()].filter((c) => this.#listed.has(c) && c.state !== 'ended');
  }

  /** The live call with this id, or undefined. */
  getCall(callId: string): Call | undefined {
    return this.#calls.get(callId);
  }

  /**
   * Opens the socket (subprotocol `dialstack.webrtc.v1`) and authenticates.
   * Resolves on `authenticated`; calling it while connected resolves at once.
   *
   * @throws PhoneError `auth_failed` (bad token), `connection_failed`,
   *   `timeout`, or another fatal server code
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
            this.off('disconnected', ko);
            resolve();
          };
          const ko = (err?: PhoneError): void => {
            this.off('reconnected', ok);
            reject(err ?? new PhoneError('not_connected', 'disconnected'));
          };
          this.once('reconnected', ok).once('disconnected', ko);
        });
    }
    this.#state = 'connecting';
    this.#sessionId = '';
    this.#iceServers().catch(() => {});
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

  /**
   * Hangs up every call, closes the socket and stops reconnecting. Emits
   * `disconnected` when the phone was connected or reconnecting.
   */
  disconnect(): void {
    const was = this.#state;
    if (was === 'idle' || was === 'closed') return;
    for (const call of [...this.#calls.values()]) call.hangup();
    this.#shutdown(undefined, was !== 'connecting');
  }

  /**
   * Places a call to `destination` (extension, E.164 number or feature code).
   * Resolves with the call once the server accepted it (`call.trying`).
   *
   * @throws PhoneError `not_connected`, `media_denied` (microphone refused),
   *   `timeout` (no answer in 30 s), a server error for the request, or
   *   `webrtc_failed`
   */
  call(destination: string, options: CallOptions = {}): Promise<Call> {
    // Create the ringback's AudioContext now, inside the app's click handler:
    // autoplay policies let a user gesture start audio.
    this.#audioContext();
    return this.#place(destination, options.callerId);
  }

  /**
   * Watches the presence of `users` (user ids). A `presence` event follows
   * with the snapshot, then one per change. Subscriptions are renewed after
   * reconnects.
   */
  subscribePresence(users: string[]): void {
    const fresh = users.filter((u) => !this.#presenceUsers.has(u));
    for (const u of users) this.#presenceUsers.add(u);
    if (this.#state === 'open') this.#subscribe(fresh.length ? fresh : users);
  }

  /**
   * Replaces the token: used for reconnects and sent as `auth.refresh` when
   * connected. `onTokenExpiring` does this by itself.
   */
  setToken(token: string): void {
    this.#token = token;
    if (this.#state === 'open') this.#send({ type: 'auth.refresh', req_id: this.#reqId(), token });
    this.#scheduleRefresh(true);
  }

  // ---- connection -------------------------------------------------------

  /** Opens a socket and authenticates; resolves on `authenticated`. */
  #open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const WS = this.#opts.WebSocket ?? globalThis.WebSocket;
      let ws: WebSocket;
      try {
        ws = new WS(this.#wsUrl, SUBPROTOCOL);
      } catch (e) {
        reject(new PhoneError('connection_failed', `cannot open ${this.#wsUrl}`, { cause: e }));
        return;
      }
      this.#ws = ws;
      this.#waiter = { resolve, reject };
      ws.onopen = () => {
        const auth: P.Authenticate = { type: 'authenticate', req_id: this.#reqId(), token: this.#token };
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
      case 'call.trying':
        return this.#trying(msg);
      case 'call.incoming':
        return this.#incoming(msg);
      case 'call.restored': {
        const call = this.#calls.get(msg.call_id);
        // A call this page has no media for (e.g. it timed out here) cannot go on.
        if (!call) return this.#send({ type: 'call.hangup', call_id: msg.call_id });
        return call._handle(msg);
      }
      case 'presence.list':
      case 'presence.update':
        return this.emit('presence', msg);
      case 'auth.refreshed':
      case 'pong':
        return;
      default:
        if ('call_id' in msg) this.#calls.get(msg.call_id)?._handle(msg);
    }
  }

  #authenticated(msg: P.Authenticated): void {
    if (!this.#waiter) return; // only the answer to our authenticate counts
    const resumed = this.#state === 'reconnecting';
    clearTimeout(this.#authTimer);
    this.#state = 'open';
    this.#attempt = 0;
    this.#sessionId = msg.session_id;
    this.#userId = msg.user_id;
    this.#accountId = msg.account_id;
    this.#scheduleRefresh(false);
    const queued = this.#queue.splice(0);
    if (resumed && msg.reconnected) {
      for (const m of queued) this.#send(m);
    } else {
      // A fresh session: the server hung up the calls of the old one.
      for (const call of [...this.#calls.values()]) call._end('hangup');
    }
    if (this.#presenceUsers.size) this.#subscribe([...this.#presenceUsers]);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.emit(resumed ? 'reconnected' : 'connected');
    waiter?.resolve();
  }

  #onError(msg: P.Error): void {
    const err = PhoneError.fromFrame(msg);
    if (msg.fatal) {
      if (this.#state !== 'connecting') this.emit('error', err);
      return this.#down(err);
    }
    const pending = msg.req_id ? this.#pending.get(msg.req_id) : undefined;
    if (pending) return this.#settle(msg.req_id!, err);
    const call = msg.call_id ? this.#calls.get(msg.call_id) : undefined;
    // A request that crossed the call's end (a hangup racing the other
    // party's, the guide's second call.transfer): the call is already over.
    if (!call && msg.code === 'call_not_found' && this.#gone.includes(msg.call_id!)) return;
    call?._error(err);
    this.emit('error', err);
    // The server no longer knows the call: it is over.
    if (msg.code === 'call_not_found') call?._end('hangup');
  }

  /** The socket is gone (closed, fatal error or timeout). */
  #down(err: PhoneError): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
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
      this.#shutdown(err, true);
    }
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
          else this.#shutdown(err, true);
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

  /** Ends everything: calls, timers, socket. */
  #shutdown(err: PhoneError | undefined, notify: boolean): void {
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    this.#state = 'closed';
    clearTimeout(this.#authTimer);
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#reconnectTimer);
    this.#queue = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(err ?? new PhoneError('not_connected', 'disconnected'));
    this.#failPending();
    for (const call of [...this.#calls.values()]) call._end('hangup');
    this.#audioCtx?.close().catch(() => {});
    this.#audioCtx = undefined;
    if (notify) this.emit('disconnected', err);
  }

  /** Sends now when connected, queues while reconnecting, else drops. */
  #send(msg: P.ClientMessage): void {
    if (this.#state === 'open' && this.#ws) this.#write(this.#ws, msg);
    else if (this.#state === 'reconnecting' && this.#queue.length < MAX_QUEUE) this.#queue.push(msg);
  }

  #write(ws: WebSocket, msg: P.ClientMessage): void {
    try {
      ws.send(JSON.stringify(msg));
    } catch {
      // closing: onclose follows
    }
  }

  #reqId(): string {
    return `r${++this.#reqSeq}`;
  }

  // ---- token refresh ----------------------------------------------------

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

  // ---- calls -----------------------------------------------------------

  async #place(destination: string, callerId?: string, original?: Call): Promise<Call> {
    if (this.#state !== 'open') throw new PhoneError('not_connected', 'the phone is not connected');
    const [iceServers, stream] = await Promise.all([this.#iceServers(), this.#microphone()]);
    let call: Call;
    let sdp: string;
    try {
      const RTC = this.#opts.RTCPeerConnection ?? globalThis.RTCPeerConnection;
      const pc = new RTC({ iceServers });
      call = new Call(this.#host, { direction: 'outbound', from: callerId ?? this.#userId, to: destination, pc, localStream: stream });
    } catch (e) {
      stopTracks(stream);
      throw new PhoneError('webrtc_failed', 'cannot create the peer connection', { cause: e });
    }
    try {
      sdp = await call._offer();
    } catch (e) {
      call._teardown();
      throw new PhoneError('webrtc_failed', 'cannot create the offer', { cause: e });
    }
    if (this.#state !== 'open') {
      call._teardown();
      throw new PhoneError('not_connected', 'the connection was lost');
    }
    const reqId = this.#reqId();
    return new Promise<Call>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#settle(reqId, new PhoneError('timeout', `no answer to the call request in ${CALL_TIMEOUT_MS / 1000} s`, { reqId })),
        CALL_TIMEOUT_MS,
      );
      this.#pending.set(reqId, { call, original, resolve, reject, timer });
      if (original) {
        this.#send({ type: 'call.transfer.attended', req_id: reqId, call_id: original.id, step: 'consult', destination, sdp });
      } else {
        const create: P.CallCreate = { type: 'call.create', req_id: reqId, destination, sdp };
        if (callerId) create.caller_id = callerId;
        this.#send(create);
      }
    });
  }

  /** Rejects the pending request `reqId` and releases its media. */
  #settle(reqId: string, err: PhoneError): void {
    const p = this.#pending.get(reqId);
    if (!p) return;
    this.#pending.delete(reqId);
    clearTimeout(p.timer);
    p.call._teardown();
    p.reject(err);
  }

  #failPending(): void {
    for (const reqId of [...this.#pending.keys()]) {
      this.#settle(reqId, new PhoneError('not_connected', 'the connection was lost before the server answered', { reqId }));
    }
  }

  #trying(msg: P.CallTrying): void {
    const p = msg.req_id ? this.#pending.get(msg.req_id) : undefined;
    if (!p) {
      // The answer to a request given up (timeout): that call is not wanted.
      if (msg.req_id && !this.#calls.has(msg.call_id)) this.#send({ type: 'call.hangup', call_id: msg.call_id });
      return;
    }
    this.#pending.delete(msg.req_id!);
    clearTimeout(p.timer);
    this.#calls.set(msg.call_id, p.call);
    this.#listed.add(p.call);
    p.original?._consulting(p.call);
    p.call._bind(msg.call_id);
    p.resolve(p.call);
  }

  #incoming(msg: P.CallIncoming): void {
    if (this.#calls.has(msg.call_id)) return;
    const RTC = this.#opts.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    const pc = this.#iceServers().then((iceServers) => new RTC({ iceServers }));
    const call = new Call(this.#host, {
      direction: 'inbound',
      id: msg.call_id,
      from: msg.from,
      fromName: msg.from_name,
      to: msg.to,
      pc,
    });
    this.#calls.set(msg.call_id, call);
    // `incoming` is emitted by the call once the server's sdp.offer is applied.
  }

  /** An inbound call can be answered: tell the app, start its ringtone. */
  #announce(call: Call): Sound | undefined {
    if (call.endReason) return undefined;
    const stop = this.#opts.ringtone?.(call);
    // Listed only after the handlers ran: inside `incoming`, activeCalls are the *other* calls.
    this.emit('incoming', call);
    if (!call.endReason) this.#listed.add(call);
    return typeof stop === 'function' ? { stop } : undefined;
  }

  async #microphone(callId?: string): Promise<MediaStream> {
    const gum =
      this.#opts.getUserMedia ?? ((c: MediaStreamConstraints) => globalThis.navigator.mediaDevices.getUserMedia(c));
    try {
      return await gum({ audio: this.#opts.audioConstraints ?? true });
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      throw new PhoneError('media_denied', `microphone unavailable${name ? ` (${name})` : ''}`, { callId, cause: e });
    }
  }

  /** ICE servers: the option, else the server's list (cached until it expires), else none. */
  #iceServers(): Promise<RTCIceServer[]> {
    if (this.#opts.iceServers) return Promise.resolve(this.#opts.iceServers);
    if (this.#ice && Date.now() < this.#iceExpires) return this.#ice;
    this.#iceExpires = Infinity;
    const f = this.#opts.fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ICE_FETCH_TIMEOUT_MS);
    });
    const request = f(`${this.#httpBase}/v1/webrtc/ice-servers`, {
      headers: { Authorization: `Bearer ${this.#token}` },
    }).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { ice_servers?: RTCIceServer[]; expires_at?: string };
      const expires = body.expires_at ? Date.parse(body.expires_at) : NaN;
      this.#iceExpires = Number.isNaN(expires) ? Infinity : expires - REFRESH_LEAD_MS;
      return Array.isArray(body.ice_servers) ? body.ice_servers : [];
    });
    this.#ice = Promise.race([request, timeout])
      .catch(() => {
        this.#iceExpires = 0; // try again for the next call
        return [];
      })
      .finally(() => clearTimeout(timer));
    return this.#ice;
  }

  #audioContext(): AudioContext | undefined {
    if (this.#opts.ringback === false) return undefined;
    try {
      const AC = this.#opts.AudioContext ?? globalThis.AudioContext;
      if (AC) this.#audioCtx ??= new AC();
    } catch {
      // no audio output: no ringback
    }
    return this.#audioCtx;
  }

  #ringback(): Sound | undefined {
    const ctx = this.#audioContext();
    try {
      return ctx && startRingback(ctx);
    } catch {
      return undefined;
    }
  }

  #subscribe(users: string[]): void {
    for (let i = 0; i < users.length; i += PRESENCE_BATCH) {
      this.#send({ type: 'presence.subscribe', req_id: this.#reqId(), users: users.slice(i, i + PRESENCE_BATCH) });
    }
  }
}

/** Derives the socket URL and the HTTP base from the options. */
function endpoints(o: PhoneOptions): [ws: string, http: string] {
  const page = globalThis.location?.href;
  const strip = (s: string): string => s.replace(/\/+$/, '');
  if (o.url) {
    const u = new URL(o.url, page);
    const http = o.baseUrl
      ? strip(new URL(o.baseUrl, page).href)
      : `${u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:'}//${u.host}${strip(u.pathname.replace(/\/v1\/webrtc\/?$/, ''))}`;
    return [u.href, http];
  }
  const base = o.baseUrl ?? globalThis.location?.origin;
  if (!base) throw new PhoneError('invalid_argument', 'Phone: url or baseUrl is required');
  const u = new URL(base, page);
  const path = strip(u.pathname);
  const http = `${u.protocol}//${u.host}${path}`;
  return [`${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}${path}/v1/webrtc`, http];
}
