import type * as P from './protocol.gen.js';
import { Call, type CallHost } from './call.js';
import { Connection } from './connection.js';
import { Emitter } from './emitter.js';
import { PhoneError } from './errors.js';
import { iceServers } from './ice.js';
import { playStream, startRingback, stopTracks, type Sound } from './media.js';

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

const CALL_TIMEOUT_MS = 30_000;
const PRESENCE_BATCH = 100;
/** How many ended call ids to remember (see #gone). */
const GONE_MAX = 64;

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
  /** The socket: authentication, reconnects, token refresh, requests. */
  #conn: Connection;
  #iceServers: () => Promise<RTCIceServer[]>;
  #userId = '';
  #accountId = '';
  #calls = new Map<string, Call>();
  #listed = new WeakSet<Call>();
  /** Ids of calls that ended here: a late call_not_found about them is no news. */
  #gone: string[] = [];
  #presenceUsers = new Set<string>();
  #audioCtx: AudioContext | undefined;
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
    const [url, httpBase] = endpoints(options);
    const conn = new Connection({
      url,
      token: options.token,
      onTokenExpiring: options.onTokenExpiring,
      autoReconnect: options.autoReconnect,
      WebSocket: options.WebSocket,
    });
    this.#conn = conn;
    conn
      .on('open', (msg, resumed) => this.#opened(msg, resumed))
      .on('reconnecting', (attempt, delay) => this.emit('reconnecting', attempt, delay))
      .on('closed', (err, notify) => this.#closed(err, notify))
      .on('error', (err) => this.emit('error', err))
      .on('frame', (msg) => this.#onFrame(msg));
    this.#iceServers = iceServers(options.iceServers, options.fetch, httpBase, () => conn.token);
    this.#host = {
      send: (msg) => conn.send(msg),
      reqId: () => conn.reqId(),
      online: () => conn.state === 'open',
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
    return this.#conn.state === 'open';
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
    return this.#conn.sessionId;
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
    if (!this.#busy()) this.#iceServers().catch(() => {});
    return this.#conn.connect();
  }

  /**
   * Hangs up every call, closes the socket and stops reconnecting. Emits
   * `disconnected` when the phone was connected or reconnecting.
   */
  disconnect(): void {
    if (!this.#busy()) return;
    for (const call of [...this.#calls.values()]) call.hangup();
    this.#conn.close();
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
   * Watches the presence of `users` (user ids, or park slots such as
   * `park.701`: `on_call` while a call is parked there). A `presence` event follows
   * with the snapshot, then one per change. Subscriptions are renewed after
   * reconnects.
   */
  subscribePresence(users: string[]): void {
    const fresh = users.filter((u) => !this.#presenceUsers.has(u));
    for (const u of users) this.#presenceUsers.add(u);
    if (this.#conn.state === 'open') this.#subscribe(fresh.length ? fresh : users);
  }

  /**
   * Replaces the token: used for reconnects and sent as `auth.refresh` when
   * connected. `onTokenExpiring` does this by itself.
   */
  setToken(token: string): void {
    this.#conn.setToken(token);
  }

  // ---- the connection's events -------------------------------------------

  /** Connecting, open or reconnecting. */
  #busy(): boolean {
    const s = this.#conn.state;
    return s !== 'idle' && s !== 'closed';
  }

  #opened(msg: P.Authenticated, resumed: boolean): void {
    this.#userId = msg.user_id;
    this.#accountId = msg.account_id;
    // A fresh session: the server hung up the calls of the old one.
    if (!resumed || !msg.reconnected) this.#endAll();
    if (this.#presenceUsers.size) this.#subscribe([...this.#presenceUsers]);
    this.emit(resumed ? 'reconnected' : 'connected');
  }

  #closed(err: PhoneError | undefined, notify: boolean): void {
    this.#endAll();
    this.#audioCtx?.close().catch(() => {});
    this.#audioCtx = undefined;
    if (notify) this.emit('disconnected', err);
  }

  #endAll(): void {
    for (const call of [...this.#calls.values()]) call._end('hangup');
  }

  #onFrame(msg: P.ServerMessage): void {
    switch (msg.type) {
      case 'error':
        return this.#onError(msg);
      case 'call.trying':
        // The answer to a request given up (timeout): that call is not wanted.
        if (msg.req_id && !this.#calls.has(msg.call_id)) this.#conn.send({ type: 'call.hangup', call_id: msg.call_id });
        return;
      case 'call.incoming':
        return this.#incoming(msg);
      case 'call.restored': {
        const call = this.#calls.get(msg.call_id);
        // A call this page has no media for (e.g. it timed out here) cannot go on.
        if (!call) return this.#conn.send({ type: 'call.hangup', call_id: msg.call_id });
        return call._handle(msg);
      }
      case 'presence.list':
      case 'presence.update':
        return this.emit('presence', msg);
      default:
        if ('call_id' in msg) this.#calls.get(msg.call_id)?._handle(msg);
    }
  }

  /** A non-fatal error that answers no pending request. */
  #onError(msg: P.Error): void {
    const err = PhoneError.fromFrame(msg);
    const call = msg.call_id ? this.#calls.get(msg.call_id) : undefined;
    // A request that crossed the call's end (a hangup racing the other
    // party's, the guide's second call.transfer): the call is already over.
    if (!call && msg.code === 'call_not_found' && this.#gone.includes(msg.call_id!)) return;
    call?._error(err);
    this.emit('error', err);
    // The server no longer knows the call: it is over.
    if (msg.code === 'call_not_found') call?._end('hangup');
  }

  // ---- calls -----------------------------------------------------------

  async #place(destination: string, callerId?: string, original?: Call): Promise<Call> {
    if (!this.isConnected) throw new PhoneError('not_connected', 'the phone is not connected');
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
    if (!this.isConnected) {
      call._teardown();
      throw new PhoneError('not_connected', 'the connection was lost');
    }
    const req_id = this.#conn.reqId();
    let msg: (P.CallCreate | P.CallTransferAttended) & { req_id: string };
    if (original) {
      msg = { type: 'call.transfer.attended', req_id, call_id: original.id, step: 'consult', destination, sdp };
    } else {
      msg = { type: 'call.create', req_id, destination, sdp };
      if (callerId) msg.caller_id = callerId;
    }
    return new Promise<Call>((resolve, reject) => {
      this.#conn.request(msg, {
        answer: 'call.trying',
        timeoutMs: CALL_TIMEOUT_MS,
        what: 'call request',
        reply: (trying) => {
          this.#calls.set(trying.call_id, call);
          this.#listed.add(call);
          original?._consulting(call);
          call._bind(trying.call_id);
          resolve(call);
        },
        fail: (err) => {
          call._teardown();
          reject(err);
        },
      });
    });
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
      this.#conn.send({ type: 'presence.subscribe', req_id: this.#conn.reqId(), users: users.slice(i, i + PRESENCE_BATCH) });
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
