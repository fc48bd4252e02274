import type * as P from './protocol.gen.js';
import { Emitter } from './emitter.js';
import { PhoneError } from './errors.js';
import { heldBy, holdState, mayResume, NO_HOLD, type Hold, type HoldEvent } from './hold.js';
import { stopTracks, waitForIceGathering, type Playback, type Sound } from './media.js';

/**
 * Where a call is. The server drives every change; the SDK only follows.
 *
 * ```
 *  trying ──ringing──▶ ringing ──answered──▶ active ◀──resumed── held
 *    │                                        ▲  └─────held─────▶ ▲
 *    └─────────────────answered───────────────┘                   │
 *  (inbound calls start in ringing)        held by the other side too
 *  any state ──ended──▶ ended
 * ```
 */
export type CallState = 'trying' | 'ringing' | 'active' | 'held' | 'ended';

/** `inbound` for calls the phone receives, `outbound` for calls it places. */
export type CallDirection = P.Direction;

/** Who holds a call: this device (`local`) or the other party (`remote`). */
export type HeldBy = P.HeldBy;

/**
 * Why a call ended: `hangup`, `busy`, `no-answer`, `failed`, `transferred`,
 * `rejected`, `answered-elsewhere` (another device of the user answered),
 * `server-shutdown`, or `merged` (this device merged the call into its
 * other call with {@link Call.merge}; the conversation goes on there).
 */
export type EndReason = P.EndReason;

/** How to decline an inbound call: `decline` (the default) or `busy`. */
export type RejectReason = P.RejectReason;

/** The plain view of a call that {@link Call.toJSON} returns. */
export interface CallSummary {
  /** The server's call id (`call_…`). */
  id: string;
  /** Caller: E.164 number, extension or user. */
  from: string;
  /** Called number or extension. */
  to: string;
  /** The call's state. */
  state: CallState;
  /** Inbound or outbound. */
  direction: CallDirection;
}

/** Events of a {@link Call} and their listener arguments. */
export interface CallEvents {
  /** The server accepted the call and assigned its id. */
  trying: [];
  /** The far end is alerting. */
  ringing: [];
  /** The call is connected; audio flows. */
  answered: [];
  /** The call was put on hold, by this device (`local`) or the other party (`remote`). */
  held: [heldBy: HeldBy];
  /** The call is off hold. */
  resumed: [];
  /** The microphone was muted. */
  muted: [];
  /** The microphone was unmuted. */
  unmuted: [];
  /** The call ended; terminal. */
  ended: [reason: EndReason];
  /** The call's state was restored after a reconnect. */
  restored: [];
  /** A request on this call failed (the call itself goes on unless `ended` follows). */
  error: [error: PhoneError];
  /** {@link Call.state} changed. */
  statechange: [state: CallState];
  /**
   * Every 5 s while audio flows: how the server receives this device's
   * audio (its estimated MOS, loss and jitter in the last window).
   */
  quality: [quality: CallQuality];
  /**
   * The call's recording changed (this device's request, the other party's,
   * a supervisor's, or the account's policy `always` at the answer), or a
   * reconnect's `call.restored` told of a change missed while the socket
   * was down (before the call's `restored` event).
   */
  recording: [state: RecordingState];
  /**
   * The conference this device hosts changed (after {@link Call.merge},
   * a participant request, or a participant leaving, holding or muting):
   * the participants now, this device's own leg included.
   */
  conference: [participants: ConferenceParticipant[]];
}

/** A call's recording state: `recording`, `paused` or `stopped`. */
export type RecordingState = P.RecordingState;

/** What {@link Call.record} asks: `start`, `pause`, `resume` or `stop`. */
export type RecordAction = P.RecordAction;

/** One party of a conference: `participant_id`, `name`, `number`, `host`, `muted`, `held`. */
export type ConferenceParticipant = P.ConferenceParticipant;

/**
 * One 5-s window of this device's audio as the server received it.
 * `call.on('quality', (q) => …)`.
 */
export interface CallQuality {
  /** Estimated mean opinion score (ITU-T G.107 E-model), 1–4.5; ≥ 4 is good, < 3.5 poor. */
  mos: number;
  /** Packets lost in the window, percent. */
  loss: number;
  /** Interarrival jitter, milliseconds. */
  jitter: number;
  /** Round-trip time in milliseconds, `null` when unknown. */
  rtt: number | null;
}

/** What a call needs from its phone. @internal */
export interface CallHost {
  send(msg: P.ClientMessage): void;
  reqId(): string;
  online(): boolean;
  iceTimeout: number;
  getUserMedia(callId: string): Promise<MediaStream>;
  consult(original: Call, destination: string): Promise<Call>;
  announce(call: Call): Sound | undefined;
  forget(call: Call): void;
  fail(err: PhoneError): void;
  ringback(): Sound | undefined;
  play(stream: MediaStream): Playback | undefined;
}

/** How a call starts. @internal */
export interface CallInit {
  direction: CallDirection;
  id?: string;
  from: string;
  fromName?: string;
  to: string;
  pc: RTCPeerConnection | Promise<RTCPeerConnection>;
  localStream?: MediaStream;
}

const MAX_ICE_RESTARTS = 3;
const noop = (): void => {};

/**
 * One call, inbound or outbound. Calls are created by {@link Phone}: by
 * `phone.call()`, `call.attendedTransfer()` or an incoming call.
 *
 * Control methods (`hangup`, `hold`, `mute`, …) do nothing on a call that has
 * ended and never throw there.
 */
export class Call extends Emitter<CallEvents> {
  /** Inbound (received) or outbound (placed). */
  readonly direction: CallDirection;
  /** The caller: E.164 number or extension; for outbound calls the caller ID asked for, else the user id. */
  readonly from: string;
  /** The caller's display name, when known ('' otherwise). */
  readonly fromName: string;
  /** The called number or extension. */
  readonly to: string;

  #host: CallHost;
  #id: string;
  #state: CallState;
  /** Who holds the call and which hold requests are in flight. */
  #hold: Hold = NO_HOLD;
  #completing = false;
  /** A `park()` awaiting `call.parked`. */
  #parking: { reqId: string; resolve: (slot: string) => void; reject: (err: PhoneError) => void } | null = null;
  /** For a consult call: the attended transfer's original call. */
  #original: Call | null = null;
  #muted = false;
  #recording: RecordingState | null = null;
  #answeredAt: Date | null = null;
  #duration: number | null = null;
  #endReason: EndReason | null = null;
  #pc!: RTCPeerConnection;
  #local: MediaStream | null;
  #remote: MediaStream | null = null;
  #chain: Promise<void> = Promise.resolve();
  #remoteCandidates: RTCIceCandidateInit[] = [];
  #localCandidates: (RTCIceCandidate | null)[] = [];
  #trickle = false;
  #doneSent = false;
  #closing = false;
  #answering: Promise<void> | null = null;
  #accepted = false;
  #announced = false;
  #earlyMedia = false;
  #pranswerAsAnswer = false;
  #iceRestarts = 0;
  #ringback: Sound | undefined;
  #ringtone: Sound | undefined;
  #playback: Playback | undefined;
  #quality: CallQuality | undefined;
  #participants: ConferenceParticipant[] = [];

  /** @internal Calls are created by Phone. */
  constructor(host: CallHost, init: CallInit) {
    super();
    this.#host = host;
    this.direction = init.direction;
    this.#id = init.id ?? '';
    this.from = init.from;
    this.fromName = init.fromName ?? '';
    this.to = init.to;
    this.#state = init.direction === 'inbound' ? 'ringing' : 'trying';
    this.#local = init.localStream ?? null;
    if (init.pc instanceof Promise) {
      this.#chain = init.pc.then((pc) => this.#attach(pc));
      this.#chain.catch((e: unknown) => this.#mediaFailed(e));
    } else {
      this.#attach(init.pc);
    }
  }

  /** The server's call id (`call_…`). */
  get id(): string {
    return this.#id;
  }

  /** The call's state: `trying`, `ringing`, `active`, `held` or `ended`. */
  get state(): CallState {
    return this.#state;
  }

  /** True while the microphone is muted by {@link Call.mute}. */
  get isMuted(): boolean {
    return this.#muted;
  }

  /** True while the call is on hold, from either side. */
  get isHeld(): boolean {
    return this.#state === 'held';
  }

  /** Who holds the call (`local` wins when both do), or null when not held. */
  get heldBy(): HeldBy | null {
    return this.#state === 'held' ? heldBy(this.#hold) : null;
  }

  /** When the call was answered, or null. */
  get answeredAt(): Date | null {
    return this.#answeredAt;
  }

  /**
   * Seconds since the answer while connected; once ended, the duration the
   * server reported (null for calls never answered).
   */
  get duration(): number | null {
    if (this.#ended()) return this.#duration;
    if (!this.#answeredAt) return null;
    return Math.max(0, Math.floor((Date.now() - this.#answeredAt.getTime()) / 1000));
  }

  /** Why the call ended, or null while it is live. */
  get endReason(): EndReason | null {
    return this.#endReason;
  }

  /**
   * The call's real `RTCPeerConnection` (for stats, or raw
   * `getSenders()[…].dtmf.insertDTMF()`). Closed once the call ends.
   */
  get peerConnection(): RTCPeerConnection {
    return this.#pc;
  }

  /** The remote party's audio, once a remote track arrived. */
  get remoteStream(): MediaStream | null {
    return this.#remote;
  }

  /** The microphone stream sent on this call, once there is one. */
  get localStream(): MediaStream | null {
    return this.#local;
  }

  /** The plain summary `{ id, from, to, state, direction }`. */
  toJSON(): CallSummary {
    return { id: this.#id, from: this.from, to: this.to, state: this.#state, direction: this.direction };
  }

  /**
   * Answers a ringing inbound call: asks for the microphone, sends
   * `call.answer` and the SDP answer. Other calls are left as they are (hold
   * them yourself to swap). Resolves once sent; does nothing on an ended call.
   *
   * @throws PhoneError `media_denied` when the microphone is refused,
   *   `invalid_state` on an outbound call, `webrtc_failed`
   */
  answer(): Promise<void> {
    if (this.#ended() || this.#closing || this.#accepted) return Promise.resolve();
    if (this.direction !== 'inbound') {
      return Promise.reject(this.#error('invalid_state', 'only inbound calls can be answered'));
    }
    this.#answering ??= this.#answer().catch((e: unknown) => {
      this.#answering = null;
      throw e;
    });
    return this.#answering;
  }

  /**
   * Declines a ringing inbound call. Without a reason the decline is silent
   * (the server's default, `decline`); `'busy'` signals busy. Other devices
   * of the user keep ringing. Does nothing on ended or answered calls.
   */
  reject(reason?: RejectReason): void {
    if (this.#state !== 'ringing' || this.direction !== 'inbound' || this.#closing || this.#accepted) return;
    this.#closing = true;
    this.#stopSounds();
    this.#host.send(
      reason ? { type: 'call.reject', call_id: this.#id, reason } : { type: 'call.reject', call_id: this.#id },
    );
  }

  /**
   * Ends the call in any state (cancels an outbound call still ringing).
   * Idempotent: sends `call.hangup` once; on an ended call it does nothing.
   * The `ended` event follows when the server confirms.
   */
  hangup(): void {
    if (this.#ended() || this.#closing) return;
    this.#closing = true;
    this.#stopSounds();
    // Hanging up a consult call cancels the attended transfer: the server
    // resumes the original call by itself.
    this.#original?._consultOver();
    this.#host.send({ type: 'call.hangup', call_id: this.#id });
  }

  /** Puts a connected call on hold; `held('local')` follows from the server. */
  hold(): void {
    if (this.#ended()) return;
    this.#onHold({ type: 'hold' });
    this.#host.send({ type: 'call.hold', call_id: this.#id });
  }

  /**
   * Takes the call off this device's hold; `resumed` follows from the server.
   * After its consult call was hung up or failed, the server resumes an
   * attended transfer's original call by itself, and this sends nothing.
   * Nor does it when this device holds nothing and asked for no hold: the
   * server may have resumed the call already (its call.resumed and the
   * consult call's call.ended can arrive in either order).
   */
  resume(): void {
    if (this.#ended() || !mayResume(this.#hold)) return;
    this.#onHold({ type: 'resume' });
    this.#host.send({ type: 'call.resume', call_id: this.#id });
  }

  /**
   * Mutes the microphone: disables the local audio track(s) and sends
   * `call.mute` (the server's mute is authoritative). {@link Call.isMuted} is
   * true at once.
   */
  mute(): void {
    this.#setMuted(true);
  }

  /** Unmutes the microphone: enables the track(s) and sends `call.unmute`. */
  unmute(): void {
    this.#setMuted(false);
  }

  /**
   * Sends DTMF digits in-band (RFC 4733) through the audio sender's
   * `RTCDTMFSender`. Does nothing on an ended call.
   *
   * @param digits - `0-9`, `A-D`, `*`, `#`, and `,` for a 2 s pause
   * @param duration - tone length in ms (default 100)
   * @param gap - gap between tones in ms (default 70)
   * @throws PhoneError `invalid_argument` for other characters,
   *   `invalid_state` when the call has no DTMF sender yet
   */
  sendDtmf(digits: string, duration = 100, gap = 70): void {
    if (this.#ended()) return;
    if (!/^[0-9A-D#*,]*$/i.test(digits)) throw this.#error('invalid_argument', `invalid DTMF digits: ${digits}`);
    const senders = this.#pc?.getSenders() ?? [];
    const sender = senders.find((s) => s.track?.kind === 'audio' && s.dtmf) ?? senders.find((s) => s.dtmf);
    if (!sender?.dtmf) throw this.#error('invalid_state', 'the call has no DTMF sender');
    sender.dtmf.insertDTMF(digits, duration, gap);
  }

  /**
   * Blind transfer: connects the other party to `destination` (extension or
   * E.164). This call then ends with `transferred`; on failure an `error`
   * event is emitted and the call goes on.
   */
  transfer(destination: string): void {
    if (this.#ended()) return;
    this.#host.send({ type: 'call.transfer', call_id: this.#id, destination });
  }

  /**
   * Attended transfer, step 1: the server holds this call (`held('local')`)
   * and places a consultation call to `destination`. Resolves with the
   * consult call once the server accepted it. Complete with
   * {@link Call.completeTransfer} on this call, or cancel by hanging up the
   * consult call. When the consult call ends without completing (hung up,
   * busy, no answer, rejected, failed) the server resumes this call: it emits
   * `resumed`, with no `resume()` needed.
   *
   * @throws PhoneError as `phone.call()` does; `invalid_state` on an ended call
   */
  attendedTransfer(destination: string): Promise<Call> {
    if (this.#ended()) return Promise.reject(this.#error('invalid_state', 'the call has ended'));
    return this.#host.consult(this, destination);
  }

  /**
   * Attended transfer, step 2 (on the original call): connects the other
   * party to the consult party. Both of this device's calls end with
   * `transferred`. Sent once; a refusal (e.g. the consult call is not
   * answered yet) is an `error` event, after which it can be tried again.
   */
  completeTransfer(): void {
    if (this.#ended() || this.#completing) return;
    this.#completing = true;
    this.#host.send({ type: 'call.transfer.attended', req_id: this.#host.reqId(), call_id: this.#id, step: 'complete' });
  }

  /**
   * Call park: the server puts the other party in the account's first free
   * park slot, where it hears music. Resolves with the slot (e.g. `'701'`):
   * anyone in the account picks the call up with `phone.call('701')`. This
   * call then ends with `transferred`. Rejects with a {@link PhoneError}
   * `park_full` when every slot is taken (the call goes on), or
   * `invalid_state` on an ended call. If nobody picks it up within the
   * server's park timeout, this user's devices ring with the parked party.
   */
  park(): Promise<string> {
    if (this.#ended()) return Promise.reject(this.#error('invalid_state', 'the call has ended'));
    if (this.#parking) return Promise.reject(this.#error('invalid_state', 'a park is already in progress'));
    const reqId = this.#host.reqId();
    return new Promise<string>((resolve, reject) => {
      this.#parking = { reqId, resolve, reject };
      this.#host.send({ type: 'call.park', req_id: reqId, call_id: this.#id });
    });
  }

  #parked(m: P.CallParked): void {
    const p = this.#parking;
    if (!p || (m.req_id && m.req_id !== p.reqId)) return;
    this.#parking = null;
    p.resolve(m.slot);
  }

  /**
   * Starts, pauses, resumes or stops the call's recording (`call.record`).
   * A `recording` event follows from the server; a refusal is an `error`
   * event (`recording_not_allowed` when the account's policy forbids it,
   * `invalid_message` when the call's recording is not in a state for it).
   * Does nothing on an ended call.
   */
  record(action: RecordAction): void {
    if (this.#ended()) return;
    this.#host.send({ type: 'call.record', req_id: this.#host.reqId(), call_id: this.#id, action });
  }

  /** Starts recording the call: `record('start')`. */
  startRecording(): void {
    this.record('start');
  }

  /** Stops recording the call: `record('stop')`. */
  stopRecording(): void {
    this.record('stop');
  }

  /** The call's recording state as the server last said, `null` before any. */
  get recordingState(): RecordingState | null {
    return this.#recording;
  }

  /**
   * Merges `other` (another answered call of this phone, possibly held)
   * into this call: the server mixes both other parties and this device
   * into one conference under this call's id. `other` ends with `merged`,
   * this call emits `conference` with the participants and `resumed` if
   * this device held it. A refusal (the other call is not answered,
   * `conference_full`, …) is an `error` event on this call, which goes on.
   *
   * @throws PhoneError `invalid_argument` when `other` is this call
   */
  merge(other: Call): void {
    if (other === this) throw this.#error('invalid_argument', 'a call cannot be merged with itself');
    if (this.#ended() || other.state === 'ended') return;
    this.#host.send({ type: 'call.merge', req_id: this.#host.reqId(), call_id: this.#id, with_call_id: other.id });
  }

  /**
   * Rings `destination` (extension or E.164, routed as this user's own
   * call) and joins whoever answers to this call, which becomes a
   * conference this device hosts. `conference` is emitted when the server
   * accepts the request and again when the party joins; a destination
   * that is busy, declines or does not answer is an `error` event
   * (`call_failed`) and changes nothing.
   */
  add(destination: string): void {
    if (this.#ended()) return;
    this.#host.send({ type: 'call.add', req_id: this.#host.reqId(), call_id: this.#id, destination });
  }

  /** The conference's participants as last reported (`[]` unless this device merged calls into this one). */
  get participants(): ConferenceParticipant[] {
    return [...this.#participants];
  }

  /**
   * Mutes (or, with `muted` false, unmutes) one participant of the
   * conference this device hosts, for everyone; `conference` follows.
   */
  muteParticipant(participantId: string, muted = true): void {
    if (this.#ended()) return;
    this.#host.send({
      type: 'call.participant.mute',
      req_id: this.#host.reqId(),
      call_id: this.#id,
      participant_id: participantId,
      muted,
    });
  }

  /** Hangs up one participant of the conference this device hosts; `conference` follows. */
  removeParticipant(participantId: string): void {
    if (this.#ended()) return;
    this.#host.send({ type: 'call.participant.remove', req_id: this.#host.reqId(), call_id: this.#id, participant_id: participantId });
  }

  /** @internal Builds the offer for an outbound call; resolves with its SDP. */
  async _offer(): Promise<string> {
    const pc = this.#pc;
    const local = this.#local;
    for (const t of local?.getTracks() ?? []) pc.addTrack(t, local!);
    await pc.setLocalDescription(await pc.createOffer());
    return this.#gather();
  }

  /** @internal Binds the server's call id (call.trying). */
  _bind(id: string): void {
    this.#id = id;
    for (const c of this.#localCandidates.splice(0)) this.#sendCandidate(c);
    this.emit('trying');
  }

  /** @internal Applies a server frame about this call. */
  _handle(m: P.ServerMessage): void {
    switch (m.type) {
      case 'call.ringing':
        return this.#ringing();
      case 'call.answered':
        return this.#answered(m.answered_at);
      case 'call.held':
        return this.#held(m.held_by);
      case 'call.resumed':
        return this.#resumed();
      case 'call.ended':
        return this._end(m.reason, m.duration_seconds);
      case 'call.restored':
        return this.#restored(m);
      case 'call.quality':
        return this.#onQuality(m);
      case 'call.parked':
        return this.#parked(m);
      case 'call.recording':
        if (this.#ended()) return;
        this.#recording = m.state;
        return this.emit('recording', m.state);
      case 'conference.updated':
        if (this.#ended()) return;
        this.#participants = m.participants;
        return this.emit('conference', this.participants);
      case 'sdp.offer':
      case 'sdp.answer':
      case 'sdp.pranswer':
      case 'ice.candidate':
        if (m.type === 'sdp.pranswer') this.#earlyMedia = true;
        if (m.type === 'sdp.pranswer') this.#stopRingback();
        this.#serial(() => this.#media(m)).catch((e: unknown) => this.#mediaFailed(e, m.type === 'sdp.offer'));
    }
  }

  #onQuality(m: P.CallQuality): void {
    if (this.#ended()) return;
    this.#quality = { mos: m.mos, loss: m.loss, jitter: m.jitter, rtt: m.rtt ?? null };
    this.emit('quality', this.#quality);
  }

  /** The latest {@link CallQuality} report, `undefined` before the first (or from a server that sends none). */
  get quality(): CallQuality | undefined {
    return this.#quality;
  }

  /** @internal Emits a server error about this call. */
  _error(err: PhoneError): void {
    this.#completing = false; // a refused completion may be retried
    const p = this.#parking;
    if (p && (!err.reqId || err.reqId === p.reqId)) {
      this.#parking = null;
      p.reject(err);
    }
    this.emit('error', err);
  }

  /** @internal Links a consult call (bound by call.trying) to this original call. */
  _consulting(consult: Call): void {
    if (!this.#ended()) consult.#original = this;
  }

  /**
   * @internal The consult call is over without a completion: the server
   * resumes this call if this device holds it.
   */
  _consultOver(): void {
    this.#completing = false;
    if (!this.#ended()) this.#onHold({ type: 'consultOver' });
  }

  /** @internal Ends the call (server call.ended, or locally). */
  _end(reason: EndReason, duration: number | null = null): void {
    if (this.#ended()) return;
    this.#endReason = reason;
    this.#duration = duration;
    const p = this.#parking;
    this.#parking = null;
    p?.reject(this.#error('invalid_state', `the call ended (${reason}) before it was parked`));
    this.#set('ended', () => {
      this.#onHold({ type: 'ended' });
      if (reason !== 'transferred') this.#original?._consultOver();
      this.#original = null;
      this._teardown();
      this.#host.forget(this);
    });
    this.emit('ended', reason);
  }

  /** @internal Releases media: sounds, peer connection, microphone. */
  _teardown(): void {
    this.#stopSounds();
    this.#playback?.stop();
    try {
      this.#pc?.close();
    } catch {
      // already closed
    }
    stopTracks(this.#local);
  }

  #attach(pc: RTCPeerConnection): void {
    this.#pc = pc;
    if (this.#ended()) {
      pc.close();
      return;
    }
    pc.addEventListener('icecandidate', (e) => this.#onLocalCandidate(e.candidate));
    pc.addEventListener('track', (e) => this.#onTrack(e));
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'failed' && this.#host.online()) this._restartIce();
    });
  }

  async #answer(): Promise<void> {
    this.#ringtone?.stop();
    const stream = await this.#host.getUserMedia(this.#id);
    if (this.#ended() || this.#closing) {
      stopTracks(stream);
      return;
    }
    await this.#serial(async () => {
      if (this.#ended()) return stopTracks(stream);
      this.#useLocal(stream);
      const pc = this.#pc;
      await pc.setLocalDescription(await pc.createAnswer());
      const sdp = await this.#gather();
      if (this.#ended()) return;
      this.#accepted = true;
      this.#host.send({ type: 'call.answer', call_id: this.#id });
      this.#host.send({ type: 'sdp.answer', call_id: this.#id, sdp });
      this.#playback?.play();
    }).catch((e: unknown) => {
      throw e instanceof PhoneError ? e : this.#error('webrtc_failed', `answer failed: ${describe(e)}`, e);
    });
  }

  #useLocal(stream: MediaStream): void {
    this.#local = stream;
    for (const t of stream.getAudioTracks()) t.enabled = !this.#muted;
    for (const t of stream.getTracks()) this.#pc.addTrack(t, stream);
  }

  async #media(m: P.SDPOffer | P.SDPAnswer | P.SDPPranswer | P.ICECandidate): Promise<void> {
    if (this.#ended()) return;
    const pc = this.#pc;
    const offering = pc.signalingState === 'have-local-offer' || pc.signalingState === 'have-remote-pranswer';
    switch (m.type) {
      case 'ice.candidate': {
        const c = { candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_m_line_index };
        if (pc.remoteDescription) await pc.addIceCandidate(c).catch(noop);
        else this.#remoteCandidates.push(c);
        return;
      }
      case 'sdp.pranswer':
        if (!offering) return;
        try {
          await pc.setRemoteDescription({ type: 'pranswer', sdp: m.sdp });
        } catch {
          // No pranswer support (Firefox): apply it as the answer.
          await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
          this.#pranswerAsAnswer = true;
        }
        break;
      case 'sdp.answer':
        if (offering) {
          await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        } else if (this.#pranswerAsAnswer && pc.signalingState === 'stable') {
          // The early-media SDP was applied as the answer: renegotiate locally.
          await pc.setLocalDescription(await pc.createOffer());
          await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        } else {
          return;
        }
        this.#pranswerAsAnswer = false;
        break;
      case 'sdp.offer': {
        if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
        await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        await this.#flushRemoteCandidates();
        if (this.direction === 'inbound' && !this.#accepted) {
          // The first offer of an inbound call: now it can be answered.
          if (!this.#announced) {
            this.#announced = true;
            this.#ringtone = this.#host.announce(this);
          }
          return;
        }
        await pc.setLocalDescription(await pc.createAnswer());
        const sdp = await this.#gather();
        if (!this.#ended()) this.#host.send({ type: 'sdp.answer', call_id: this.#id, sdp });
        return;
      }
    }
    await this.#flushRemoteCandidates();
  }

  async #flushRemoteCandidates(): Promise<void> {
    for (const c of this.#remoteCandidates.splice(0)) await this.#pc.addIceCandidate(c).catch(noop);
  }

  /** Waits for ICE gathering (bounded) and returns the local SDP; later candidates trickle. */
  async #gather(): Promise<string> {
    this.#trickle = false;
    await waitForIceGathering(this.#pc, this.#host.iceTimeout);
    const sdp = this.#pc.localDescription?.sdp ?? '';
    this.#trickle = this.#pc.iceGatheringState !== 'complete';
    this.#doneSent = false;
    return sdp;
  }

  #onLocalCandidate(c: RTCIceCandidate | null): void {
    if (!this.#trickle || this.#ended()) return;
    if (!this.#id) this.#localCandidates.push(c);
    else this.#sendCandidate(c);
  }

  #sendCandidate(c: RTCIceCandidate | null): void {
    if (c?.candidate) {
      this.#host.send({
        type: 'ice.candidate',
        call_id: this.#id,
        candidate: c.candidate,
        sdp_mid: c.sdpMid ?? '0',
        sdp_m_line_index: c.sdpMLineIndex ?? 0,
      });
    } else if (!c && !this.#doneSent) {
      this.#doneSent = true;
      this.#host.send({ type: 'ice.done', call_id: this.#id });
    }
  }

  #onTrack(e: RTCTrackEvent): void {
    if (this.#remote) return;
    const stream =
      e.streams?.[0] ?? (typeof MediaStream === 'function' ? new MediaStream([e.track]) : undefined);
    if (!stream) return;
    this.#remote = stream;
    this.#playback = this.#host.play(stream);
  }

  /** @internal Restarts ICE (after a network change): a new offer with fresh credentials. */
  _restartIce(): void {
    if (this.#iceRestarts >= MAX_ICE_RESTARTS) return;
    this.#iceRestarts++;
    this.#serial(async () => {
      const pc = this.#pc;
      if (this.#ended() || !this.#id || pc.signalingState !== 'stable' || !pc.localDescription) return;
      await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
      const sdp = await this.#gather();
      if (!this.#ended()) this.#host.send({ type: 'sdp.offer', call_id: this.#id, sdp });
    }).catch(noop);
  }

  #ringing(): void {
    if (this.#state !== 'trying') return;
    this.#set('ringing');
    if (!this.#earlyMedia && !this.#closing) this.#ringback ??= this.#host.ringback();
    this.emit('ringing');
  }

  #answered(at: string): void {
    if (this.#state !== 'trying' && this.#state !== 'ringing') return;
    this.#answeredAt = parseDate(at) ?? new Date();
    this.#stopSounds();
    this.#playback?.play();
    this.#set('active');
    this.emit('answered');
  }

  #held(by: HeldBy): void {
    if (this.#state !== 'active' && this.#state !== 'held') return;
    this.#onHold({ type: 'held', by });
    this.#set('held');
    this.emit('held', by);
  }

  #resumed(): void {
    if (this.#state !== 'held') return;
    const still = heldBy(this.#onHold({ type: 'resumed' }));
    if (still) {
      this.emit('held', still);
      return;
    }
    this.#set('active');
    this.emit('resumed');
  }

  #restored(m: P.CallRestored): void {
    const prev = this.#state;
    if (prev === 'ended') return;
    const at = m.answered_at ? parseDate(m.answered_at) : null;
    if (at) this.#answeredAt = at;
    this.#onHold({ type: 'restored', state: m.state, by: m.held_by });
    if (m.state !== 'ringing') this.#stopSounds();
    if (m.state !== prev) {
      this.#set(m.state);
      if (prev === 'trying' && m.state === 'ringing') this.emit('ringing');
      if ((prev === 'trying' || prev === 'ringing') && m.state !== 'ringing') this.emit('answered');
      if (m.state === 'held') this.emit('held', this.heldBy ?? 'remote');
      if (prev === 'held' && m.state === 'active') this.emit('resumed');
    }
    // The user's last mute choice wins over the state the server kept.
    if (typeof m.muted === 'boolean' && m.muted !== this.#muted) {
      this.#host.send({ type: this.#muted ? 'call.mute' : 'call.unmute', call_id: this.#id });
    }
    this.#restoredRecording(m.recording);
    const ice = this.#pc?.iceConnectionState;
    if (ice === 'failed' || ice === 'disconnected') this._restartIce();
    this.emit('restored');
  }

  /**
   * Applies call.restored's `recording` as a call.recording notice would:
   * the state it names, or `stopped` when it names none and the call was
   * being recorded (the notice was lost with the socket).
   */
  #restoredRecording(r: P.RecordingInfo | null | undefined): void {
    const was = this.#recording;
    const now = r ? r.state : was === 'recording' || was === 'paused' ? 'stopped' : was;
    if (now === was || now === null) return;
    this.#recording = now;
    this.emit('recording', now);
  }

  #setMuted(on: boolean): void {
    if (this.#ended() || this.#muted === on) return;
    this.#muted = on;
    for (const t of this.#local?.getAudioTracks() ?? []) t.enabled = !on;
    this.#host.send({ type: on ? 'call.mute' : 'call.unmute', call_id: this.#id });
    this.emit(on ? 'muted' : 'unmuted');
  }

  #ended(): boolean {
    return this.#state === 'ended';
  }

  /**
   * Moves the call to `state` and emits `statechange`; `then` runs in
   * between, when the state has changed and before listeners hear of it.
   */
  #set(state: CallState, then?: () => void): void {
    if (this.#state === state) return;
    this.#state = state;
    then?.();
    this.emit('statechange', state);
  }

  #onHold(ev: HoldEvent): Hold {
    return (this.#hold = holdState(this.#hold, ev));
  }

  #stopRingback(): void {
    this.#ringback?.stop();
    this.#ringback = undefined;
  }

  #stopSounds(): void {
    this.#stopRingback();
    this.#ringtone?.stop();
    this.#ringtone = undefined;
  }

  /** Runs `task` after the call's earlier media work, in order. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.then(noop, noop);
    return run;
  }

  #mediaFailed(e: unknown, offer = true): void {
    if (this.#ended()) return;
    const err = this.#error('webrtc_failed', `media negotiation failed: ${describe(e)}`, e);
    this.emit('error', err);
    this.#host.fail(err);
    // An inbound call whose offer cannot be applied cannot be answered here.
    if (offer && this.direction === 'inbound' && !this.#accepted && this.#id) this.reject();
  }

  #error(code: PhoneError['code'], message: string, cause?: unknown): PhoneError {
    return new PhoneError(code, message, { callId: this.#id || undefined, cause });
  }
}

function parseDate(s: string): Date | null {
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
