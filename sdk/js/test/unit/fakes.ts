// Fakes of the browser APIs the SDK uses, injected through PhoneOptions.
import { vi } from 'vitest';
import { Phone, type PhoneOptions } from '../../src/index.js';

/** Runs pending microtasks (the SDK's promise chains) to completion. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/** A JWT (unsigned) with the given exp (seconds). */
export function makeToken(exp: number, sub = 'user_alice'): string {
  const b64 = (o: object): string =>
    btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp })}.sig`;
}

type Frame = Record<string, unknown> & { type: string };

export class FakeWebSocket {
  readyState = 0;
  sent: Frame[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(code = 1000): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.closedWith = code;
    this.onclose?.({ code, reason: '' });
  }

  // ---- test side ----

  /** The server accepts the upgrade. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The server sends a frame. */
  receive(frame: Frame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The connection drops. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }

  /** Frames the SDK sent of that type. */
  ofType(type: string): Frame[] {
    return this.sent.filter((f) => f.type === type);
  }

  /** The last frame the SDK sent of that type. */
  last(type: string): Frame {
    const all = this.ofType(type);
    if (!all.length) throw new Error(`no ${type} sent; sent: ${this.sent.map((f) => f.type).join(', ')}`);
    return all[all.length - 1]!;
  }

  types(): string[] {
    return this.sent.map((f) => f.type);
  }
}

export class FakeTrack {
  kind = 'audio';
  enabled = true;
  stopped = false;
  stop(): void {
    this.stopped = true;
  }
}

export class FakeStream {
  tracks = [new FakeTrack()];
  getTracks(): FakeTrack[] {
    return this.tracks;
  }
  getAudioTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === 'audio');
  }
}

export class FakeDTMFSender {
  inserted: Array<[string, number | undefined, number | undefined]> = [];
  insertDTMF(tones: string, duration?: number, gap?: number): void {
    this.inserted.push([tones, duration, gap]);
  }
}

export interface FakeSender {
  track: FakeTrack | null;
  dtmf: FakeDTMFSender | null;
}

type Desc = { type: string; sdp?: string };

export class FakePeerConnection extends EventTarget {
  signalingState = 'stable';
  iceGatheringState = 'new';
  iceConnectionState = 'new';
  localDescription: Desc | null = null;
  remoteDescription: Desc | null = null;
  senders: FakeSender[] = [];
  candidates: RTCIceCandidateInit[] = [];
  closed = false;
  offers = 0;
  log: string[] = [];
  /** 'auto': gathering completes at setLocalDescription; 'manual': the test drives it. */
  gather: 'auto' | 'manual' = 'auto';
  /** Throw on setRemoteDescription({type:'pranswer'}) like Firefox. */
  noPranswer = false;
  failRemote = false;

  constructor(readonly config?: RTCConfiguration) {
    super();
  }

  addTrack(track: FakeTrack): FakeSender {
    const s = { track, dtmf: new FakeDTMFSender() };
    this.senders.push(s);
    return s;
  }

  getSenders(): FakeSender[] {
    return this.senders;
  }

  async createOffer(opts?: { iceRestart?: boolean }): Promise<Desc> {
    this.offers++;
    return { type: 'offer', sdp: `offer-${this.offers}${opts?.iceRestart ? '-restart' : ''}` };
  }

  async createAnswer(): Promise<Desc> {
    return { type: 'answer', sdp: 'answer-sdp' };
  }

  async setLocalDescription(d: Desc): Promise<void> {
    this.log.push(`local:${d.type}`);
    if (d.type === 'rollback') {
      this.signalingState = 'stable';
      return;
    }
    this.localDescription = { type: d.type, sdp: d.sdp };
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
    this.iceGatheringState = this.gather === 'auto' ? 'complete' : 'gathering';
  }

  async setRemoteDescription(d: Desc): Promise<void> {
    this.log.push(`remote:${d.type}`);
    if (this.failRemote) throw new Error('bad sdp');
    if (d.type === 'pranswer' && this.noPranswer) throw new Error('pranswer unsupported');
    if (d.type === 'answer' && this.signalingState === 'stable') throw new Error('InvalidStateError: stable');
    this.remoteDescription = d;
    this.signalingState =
      d.type === 'offer' ? 'have-remote-offer' : d.type === 'pranswer' ? 'have-remote-pranswer' : 'stable';
  }

  async addIceCandidate(c: RTCIceCandidateInit): Promise<void> {
    this.candidates.push(c);
  }

  close(): void {
    this.closed = true;
    this.signalingState = 'closed';
  }

  // ---- test side ----

  /** A local candidate was gathered (null: gathering finished). */
  emitCandidate(candidate: string | null, sdpMid = '0', sdpMLineIndex = 0): void {
    if (candidate === null) {
      this.iceGatheringState = 'complete';
      this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: null }));
      this.dispatchEvent(new Event('icegatheringstatechange'));
      return;
    }
    if (this.localDescription) this.localDescription.sdp += `\na=candidate:${candidate}`;
    this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: { candidate, sdpMid, sdpMLineIndex } }));
  }

  /** A remote track arrived. */
  emitTrack(stream: unknown): void {
    this.dispatchEvent(Object.assign(new Event('track'), { track: { kind: 'audio' }, streams: [stream] }));
  }

  setIceState(state: string): void {
    this.iceConnectionState = state;
    this.dispatchEvent(new Event('iceconnectionstatechange'));
  }
}

export class FakeAudioContext {
  static started = 0;
  static stopped = 0;
  state = 'running';
  currentTime = 0;
  destination = {};
  closed = false;
  createGain(): unknown {
    return {
      gain: { value: 0, setValueAtTime: vi.fn() },
      connect: vi.fn(),
      disconnect: vi.fn(),
    };
  }
  createOscillator(): unknown {
    return {
      frequency: { value: 0 },
      connect: vi.fn(),
      disconnect: vi.fn(),
      start: () => FakeAudioContext.started++,
      stop: () => FakeAudioContext.stopped++,
    };
  }
  async resume(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

export class FakeAudio {
  static all: FakeAudio[] = [];
  autoplay = false;
  srcObject: unknown = null;
  plays = 0;
  paused = false;
  constructor() {
    FakeAudio.all.push(this);
  }
  play(): Promise<void> {
    this.plays++;
    return Promise.resolve();
  }
  pause(): void {
    this.paused = true;
  }
}

/** A minimal fetch Response (no streams, so microtasks suffice). */
export function jsonResponse(body: unknown, status = 200): Response {
  return { ok: status < 300, status, json: async () => body } as unknown as Response;
}

export const ICE = [{ urls: 'stun:stun.pbx.test:3478' }];

export interface Env {
  phone: Phone;
  sockets: FakeWebSocket[];
  pcs: FakePeerConnection[];
  ws: FakeWebSocket;
  pc: FakePeerConnection;
  gum: ReturnType<typeof vi.fn>;
  fetch: ReturnType<typeof vi.fn>;
  streams: FakeStream[];
}

export interface SetupOptions extends Partial<PhoneOptions> {
  gather?: 'auto' | 'manual';
  denyMic?: boolean;
  pcTweak?: (pc: FakePeerConnection) => void;
}

/** A Phone wired to fakes. */
export function setup(o: SetupOptions = {}): Env {
  const { gather = 'auto', denyMic, pcTweak, ...opts } = o;
  const sockets: FakeWebSocket[] = [];
  const pcs: FakePeerConnection[] = [];
  const streams: FakeStream[] = [];
  class WS extends FakeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  class PC extends FakePeerConnection {
    constructor(config?: RTCConfiguration) {
      super(config);
      this.gather = gather;
      pcTweak?.(this);
      pcs.push(this);
    }
  }
  const gum = vi.fn(async (_c: MediaStreamConstraints) => {
    if (denyMic) throw Object.assign(new Error('Permission denied'), { name: 'NotAllowedError' });
    const s = new FakeStream();
    streams.push(s);
    return s as unknown as MediaStream;
  });
  const fetch = vi.fn(async (_url: string, _init?: RequestInit) =>
    jsonResponse({ ice_servers: ICE, expires_at: new Date(Date.now() + 3600_000).toISOString() }),
  );
  const phone = new Phone({
    baseUrl: 'https://pbx.test',
    token: makeToken(Math.floor(Date.now() / 1000) + 3600),
    WebSocket: WS as unknown as PhoneOptions['WebSocket'],
    RTCPeerConnection: PC as unknown as PhoneOptions['RTCPeerConnection'],
    getUserMedia: gum,
    fetch,
    ...opts,
  });
  return {
    phone,
    sockets,
    pcs,
    gum,
    fetch,
    streams,
    get ws() {
      const ws = sockets[sockets.length - 1];
      if (!ws) throw new Error('no socket opened');
      return ws;
    },
    get pc() {
      const pc = pcs[pcs.length - 1];
      if (!pc) throw new Error('no peer connection created');
      return pc;
    },
  };
}

export const AUTHENTICATED = {
  type: 'authenticated',
  user_id: 'user_alice',
  account_id: 'acct_1',
  session_id: 'sess_1',
  reconnected: false,
};

/** Connects env.phone: opens the socket and authenticates. */
export async function connect(env: Env, frame: Partial<typeof AUTHENTICATED> = {}): Promise<void> {
  const p = env.phone.connect();
  env.ws.open();
  env.ws.receive({ ...AUTHENTICATED, ...frame });
  await p;
  await flush();
}

/** Places a call and binds it with call.trying. */
export async function dial(env: Env, destination = '105', callId = 'call_out', callerId?: string) {
  const p = env.phone.call(destination, callerId ? { callerId } : {});
  await flush();
  const create = env.ws.last('call.create');
  env.ws.receive({ type: 'call.trying', call_id: callId, req_id: create.req_id as string });
  const call = await p;
  await flush();
  return call;
}

/** Delivers an inbound call (call.incoming + sdp.offer). */
export async function ring(env: Env, callId = 'call_in', from = '+14155550100') {
  env.ws.receive({ type: 'call.incoming', call_id: callId, from, from_name: 'Bob', to: '101' });
  env.ws.receive({ type: 'sdp.offer', call_id: callId, sdp: 'server-offer' });
  await flush();
  const call = env.phone.getCall(callId);
  if (!call) throw new Error('no call');
  return call;
}
