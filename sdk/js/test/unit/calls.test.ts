import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Call, PhoneError, type EndReason } from '../../src/index.js';
import {
  connect,
  dial,
  FakeAudio,
  FakeAudioContext,
  FakeStream,
  flush,
  ring,
  setup,
  type Env,
} from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

async function ready(o: Parameters<typeof setup>[0] = {}): Promise<Env> {
  const env = setup(o);
  await connect(env);
  return env;
}

function record(call: Call): string[] {
  const events: string[] = [];
  for (const e of ['trying', 'ringing', 'answered', 'resumed', 'muted', 'unmuted', 'restored'] as const) {
    call.on(e, () => events.push(e));
  }
  call.on('held', (by) => events.push(`held:${by}`));
  call.on('ended', (r) => events.push(`ended:${r}`));
  call.on('error', (e) => events.push(`error:${e.code}`));
  return events;
}

describe('outbound calls', () => {
  it('runs trying → ringing → answered → ended', async () => {
    const env = await ready();
    const p = env.phone.call('+14155551234', { callerId: '+14155559876' });
    await flush();
    expect(env.gum).toHaveBeenCalledWith({ audio: true });
    const pc = env.pc;
    expect(pc.senders).toHaveLength(1);
    expect(pc.localDescription?.type).toBe('offer');
    const create = env.ws.last('call.create');
    expect(create).toEqual({
      type: 'call.create',
      req_id: expect.any(String),
      destination: '+14155551234',
      sdp: 'offer-1',
      caller_id: '+14155559876',
    });
    env.ws.receive({ type: 'call.trying', call_id: 'call_1', req_id: create.req_id as string });
    const call = await p;
    expect(call).toBeInstanceOf(Call);
    expect(call.id).toBe('call_1');
    expect(call.state).toBe('trying');
    expect(call.direction).toBe('outbound');
    expect(call.to).toBe('+14155551234');
    expect(call.from).toBe('+14155559876');
    expect(call.peerConnection).toBe(pc);
    expect(env.phone.getCall('call_1')).toBe(call);
    expect(env.phone.activeCalls).toEqual([call]);

    const events = record(call);
    const states: string[] = [];
    call.on('statechange', (s) => states.push(s));
    env.ws.receive({ type: 'sdp.answer', call_id: 'call_1', sdp: 'server-answer' });
    env.ws.receive({ type: 'call.ringing', call_id: 'call_1' });
    expect(call.state).toBe('ringing');
    env.ws.receive({ type: 'call.ringing', call_id: 'call_1' }); // repeated: ignored
    await flush();
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: 'server-answer' });
    env.ws.receive({ type: 'call.answered', call_id: 'call_1', answered_at: '2020-01-01T10:00:00Z' });
    expect(call.state).toBe('active');
    expect(call.answeredAt?.toISOString()).toBe('2020-01-01T10:00:00.000Z');
    expect(call.duration).toBeGreaterThan(0);
    env.ws.receive({ type: 'call.ended', call_id: 'call_1', reason: 'hangup', duration_seconds: 42 });
    expect(call.state).toBe('ended');
    expect(call.endReason).toBe('hangup');
    expect(call.duration).toBe(42);
    expect(events).toEqual(['ringing', 'answered', 'ended:hangup']);
    expect(states).toEqual(['ringing', 'active', 'ended']);
    expect(pc.closed).toBe(true);
    expect(env.streams[0]!.tracks[0]!.stopped).toBe(true);
    expect(env.phone.activeCalls).toEqual([]);
    expect(env.phone.getCall('call_1')).toBeUndefined();
  });

  it('sends no caller_id without callerId; from is the user id', async () => {
    const env = await ready();
    const call = await dial(env, '105');
    expect('caller_id' in env.ws.last('call.create')).toBe(false);
    expect(call.from).toBe('user_alice');
  });

  it('applies an sdp.answer that comes before trying is processed by the app', async () => {
    const env = await ready();
    const p = env.phone.call('105');
    await flush();
    const { req_id } = env.ws.last('call.create');
    env.ws.receive({ type: 'call.trying', call_id: 'c', req_id: req_id as string });
    env.ws.receive({ type: 'sdp.answer', call_id: 'c', sdp: 'a' });
    env.ws.receive({ type: 'call.answered', call_id: 'c', answered_at: '2030-01-01T10:00:00Z' });
    const call = await p;
    await flush();
    expect(call.state).toBe('active');
    expect(env.pc.remoteDescription?.sdp).toBe('a');
  });

  it.each<EndReason>(['hangup', 'busy', 'no-answer', 'failed', 'transferred', 'rejected', 'answered-elsewhere'])(
    'ends with reason %s',
    async (reason) => {
      const env = await ready();
      const call = await dial(env);
      const ended = vi.fn();
      call.on('ended', ended);
      env.ws.receive({ type: 'call.ended', call_id: call.id, reason, duration_seconds: null });
      expect(ended).toHaveBeenCalledWith(reason);
      expect(call.endReason).toBe(reason);
      expect(call.duration).toBeNull();
      env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'hangup', duration_seconds: 1 });
      expect(ended).toHaveBeenCalledTimes(1);
    },
  );

  it('rejects with the server error for its req_id and releases media', async () => {
    const env = await ready();
    const errors = vi.fn();
    env.phone.on('error', errors);
    const p = env.phone.call('+1999', { callerId: '+1555' });
    await flush();
    const { req_id } = env.ws.last('call.create');
    env.ws.receive({ type: 'error', code: 'invalid_message', message: 'caller_id not owned', req_id: req_id as string });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PhoneError);
    expect(err).toMatchObject({ code: 'invalid_message', reqId: req_id, message: 'caller_id not owned' });
    expect(env.pc.closed).toBe(true);
    expect(env.streams[0]!.tracks[0]!.stopped).toBe(true);
    expect(errors).not.toHaveBeenCalled();
    expect(env.phone.activeCalls).toEqual([]);
  });

  it('times out after 30 s and hangs up a late call.trying', async () => {
    vi.useFakeTimers();
    const env = await ready();
    const p = env.phone.call('105');
    const caught = p.catch((e: unknown) => e);
    await flush();
    const { req_id } = env.ws.last('call.create');
    await vi.advanceTimersByTimeAsync(29_999);
    await flush();
    let settled = false;
    void caught.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await caught).toMatchObject({ code: 'timeout' });
    expect(env.pc.closed).toBe(true);
    env.ws.receive({ type: 'call.trying', call_id: 'call_late', req_id: req_id as string });
    expect(env.ws.last('call.hangup').call_id).toBe('call_late');
    expect(env.phone.getCall('call_late')).toBeUndefined();
  });

  it('rejects with media_denied when the microphone is refused, sending nothing', async () => {
    const env = await ready({ denyMic: true });
    const err = await env.phone.call('105').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'media_denied' });
    expect((err as PhoneError).message).toContain('NotAllowedError');
    expect(env.ws.ofType('call.create')).toHaveLength(0);
  });

  it('passes audioConstraints to getUserMedia', async () => {
    const env = await ready({ audioConstraints: { echoCancellation: true } });
    await dial(env);
    expect(env.gum).toHaveBeenCalledWith({ audio: { echoCancellation: true } });
  });

  it('rejects with not_connected before connect', async () => {
    const env = setup();
    await expect(env.phone.call('105')).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('rejects with webrtc_failed when the offer fails', async () => {
    const env = await ready({
      pcTweak: (pc) => {
        pc.createOffer = async () => {
          throw new Error('boom');
        };
      },
    });
    await expect(env.phone.call('105')).rejects.toMatchObject({ code: 'webrtc_failed' });
    expect(env.streams[0]!.tracks[0]!.stopped).toBe(true);
  });

  it('embeds gathered candidates, waits at most the gathering timeout, then trickles the rest', async () => {
    vi.useFakeTimers();
    const env = await ready({ gather: 'manual' });
    const p = env.phone.call('105');
    await flush();
    const pc = env.pc;
    pc.emitCandidate('host-1'); // gathered before sending: in the SDP
    expect(env.ws.ofType('call.create')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);
    const create = env.ws.last('call.create');
    expect(create.sdp).toContain('host-1');
    pc.emitCandidate('srflx-2', '0', 0); // before call_id: buffered
    expect(env.ws.ofType('ice.candidate')).toHaveLength(0);
    env.ws.receive({ type: 'call.trying', call_id: 'call_t', req_id: create.req_id as string });
    await p;
    expect(env.ws.ofType('ice.candidate')).toEqual([
      { type: 'ice.candidate', call_id: 'call_t', candidate: 'srflx-2', sdp_mid: '0', sdp_m_line_index: 0 },
    ]);
    pc.emitCandidate('relay-3');
    pc.emitCandidate(null);
    pc.emitCandidate(null);
    expect(env.ws.ofType('ice.candidate').map((f) => f.candidate)).toEqual(['srflx-2', 'relay-3']);
    expect(env.ws.ofType('ice.done')).toEqual([{ type: 'ice.done', call_id: 'call_t' }]);
  });

  it('sends the SDP as soon as gathering completes, and trickles nothing then', async () => {
    const env = await ready({ gather: 'manual' });
    const p = env.phone.call('105');
    await flush();
    env.pc.emitCandidate('host-1');
    env.pc.emitCandidate(null);
    await flush();
    const create = env.ws.last('call.create');
    expect(create.sdp).toContain('host-1');
    env.ws.receive({ type: 'call.trying', call_id: 'c', req_id: create.req_id as string });
    await p;
    expect(env.ws.ofType('ice.candidate')).toHaveLength(0);
    expect(env.ws.ofType('ice.done')).toHaveLength(0);
  });

  it('buffers remote candidates until the answer is applied', async () => {
    const env = await ready();
    const call = await dial(env);
    env.ws.receive({ type: 'ice.candidate', call_id: call.id, candidate: 'cand-a', sdp_mid: '0', sdp_m_line_index: 0 });
    await flush();
    expect(env.pc.candidates).toEqual([]);
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'ans' });
    env.ws.receive({ type: 'ice.candidate', call_id: call.id, candidate: 'cand-b', sdp_mid: '0', sdp_m_line_index: 0 });
    env.ws.receive({ type: 'ice.done', call_id: call.id });
    await flush();
    expect(env.pc.candidates).toEqual([
      { candidate: 'cand-a', sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: 'cand-b', sdpMid: '0', sdpMLineIndex: 0 },
    ]);
  });

  it('applies sdp.pranswer as pranswer, then the final answer', async () => {
    const env = await ready();
    const call = await dial(env);
    env.ws.receive({ type: 'sdp.pranswer', call_id: call.id, sdp: 'early' });
    await flush();
    expect(env.pc.signalingState).toBe('have-remote-pranswer');
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'final' });
    await flush();
    expect(env.pc.log).toEqual(['local:offer', 'remote:pranswer', 'remote:answer']);
    expect(env.pc.remoteDescription?.sdp).toBe('final');
  });

  it('falls back to answer when pranswer is unsupported, renegotiating for the final answer', async () => {
    const env = await ready({ pcTweak: (pc) => (pc.noPranswer = true) });
    const call = await dial(env);
    env.ws.receive({ type: 'sdp.pranswer', call_id: call.id, sdp: 'early' });
    await flush();
    expect(env.pc.remoteDescription).toEqual({ type: 'answer', sdp: 'early' });
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'final' });
    await flush();
    expect(env.pc.remoteDescription).toEqual({ type: 'answer', sdp: 'final' });
    expect(env.pc.log).toEqual(['local:offer', 'remote:pranswer', 'remote:answer', 'local:offer', 'remote:answer']);
  });

  it('ignores a duplicate sdp.answer', async () => {
    const env = await ready();
    const call = await dial(env);
    const events = record(call);
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'a1' });
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'a2' });
    await flush();
    expect(env.pc.remoteDescription?.sdp).toBe('a1');
    expect(events).toEqual([]);
  });

  it('answers a server re-offer on an outbound call', async () => {
    const env = await ready();
    const call = await dial(env);
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'a1' });
    env.ws.receive({ type: 'sdp.offer', call_id: call.id, sdp: 're-offer' });
    await flush();
    expect(env.ws.last('sdp.answer')).toEqual({ type: 'sdp.answer', call_id: call.id, sdp: 'answer-sdp' });
  });
});

describe('ringback and remote audio', () => {
  beforeEach(() => {
    FakeAudioContext.started = FakeAudioContext.stopped = 0;
    FakeAudio.all = [];
  });

  it('plays ringback while ringing and stops it on answer', async () => {
    const env = await ready({ AudioContext: FakeAudioContext as never });
    const call = await dial(env);
    expect(FakeAudioContext.started).toBe(0);
    env.ws.receive({ type: 'call.ringing', call_id: call.id });
    expect(FakeAudioContext.started).toBe(2); // 440 + 480 Hz
    env.ws.receive({ type: 'call.answered', call_id: call.id, answered_at: '2030-01-01T00:00:00Z' });
    expect(FakeAudioContext.stopped).toBe(2);
  });

  it('stops ringback on early media and on end', async () => {
    const env = await ready({ AudioContext: FakeAudioContext as never });
    const a = await dial(env, '105', 'a');
    env.ws.receive({ type: 'call.ringing', call_id: 'a' });
    env.ws.receive({ type: 'sdp.pranswer', call_id: 'a', sdp: 'early' });
    expect(FakeAudioContext.stopped).toBe(2);
    const b = await dial(env, '106', 'b');
    env.ws.receive({ type: 'call.ringing', call_id: 'b' });
    env.ws.receive({ type: 'call.ended', call_id: 'b', reason: 'no-answer', duration_seconds: null });
    expect(FakeAudioContext.started).toBe(4);
    expect(FakeAudioContext.stopped).toBe(4);
    expect([a.state, b.state]).toEqual(['ringing', 'ended']);
  });

  it('plays no ringback with ringback: false', async () => {
    const env = await ready({ AudioContext: FakeAudioContext as never, ringback: false });
    const call = await dial(env);
    env.ws.receive({ type: 'call.ringing', call_id: call.id });
    expect(FakeAudioContext.started).toBe(0);
  });

  it('plays remote audio through an SDK audio element', async () => {
    const env = await ready({ Audio: FakeAudio as never });
    const call = await dial(env);
    const stream = new FakeStream();
    env.pc.emitTrack(stream);
    expect(call.remoteStream).toBe(stream);
    expect(FakeAudio.all).toHaveLength(1);
    const el = FakeAudio.all[0]!;
    expect(el.srcObject).toBe(stream);
    expect(el.autoplay).toBe(true);
    expect(el.plays).toBe(1);
    env.ws.receive({ type: 'call.answered', call_id: call.id, answered_at: '2030-01-01T00:00:00Z' });
    expect(el.plays).toBe(2); // retried after the answer
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'hangup', duration_seconds: 1 });
    expect(el.srcObject).toBeNull();
    expect(el.paused).toBe(true);
  });

  it('leaves remote audio to the app with autoPlayRemoteAudio: false', async () => {
    const env = await ready({ Audio: FakeAudio as never, autoPlayRemoteAudio: false });
    const call = await dial(env);
    const stream = new FakeStream();
    env.pc.emitTrack(stream);
    expect(call.remoteStream).toBe(stream);
    expect(FakeAudio.all).toHaveLength(0);
  });
});

describe('inbound calls', () => {
  it('applies the offer before emitting incoming, then answers with call.answer + sdp.answer', async () => {
    const env = await ready();
    const seen: Array<{ remote: unknown; active: number }> = [];
    env.phone.on('incoming', (call) => {
      seen.push({ remote: call.peerConnection.remoteDescription, active: env.phone.activeCalls.length });
    });
    env.ws.receive({ type: 'call.incoming', call_id: 'call_in', from: '+14155550100', from_name: 'Bob', to: '101' });
    expect(seen).toEqual([]);
    env.ws.receive({ type: 'sdp.offer', call_id: 'call_in', sdp: 'server-offer' });
    await flush();
    expect(seen).toEqual([{ remote: { type: 'offer', sdp: 'server-offer' }, active: 0 }]);
    const call = env.phone.getCall('call_in')!;
    expect(call.toJSON()).toEqual({ id: 'call_in', from: '+14155550100', to: '101', state: 'ringing', direction: 'inbound' });
    expect(call.fromName).toBe('Bob');
    expect(env.pc.config).toEqual({ iceServers: expect.any(Array) });
    expect(env.phone.activeCalls).toEqual([call]);

    await call.answer();
    expect(env.gum).toHaveBeenCalledWith({ audio: true });
    expect(env.ws.types().slice(-2)).toEqual(['call.answer', 'sdp.answer']);
    expect(env.ws.last('call.answer')).toEqual({ type: 'call.answer', call_id: 'call_in' });
    expect(env.ws.last('sdp.answer')).toEqual({ type: 'sdp.answer', call_id: 'call_in', sdp: 'answer-sdp' });
    expect(env.pc.senders).toHaveLength(1);
    await call.answer(); // idempotent
    expect(env.ws.ofType('call.answer')).toHaveLength(1);
    const events = record(call);
    env.ws.receive({ type: 'call.answered', call_id: 'call_in', answered_at: '2030-01-01T00:00:00Z' });
    expect(call.state).toBe('active');
    expect(events).toEqual(['answered']);
  });

  it('buffers candidates that precede the offer', async () => {
    const env = await ready();
    env.ws.receive({ type: 'call.incoming', call_id: 'c', from: '1', from_name: '', to: '2' });
    env.ws.receive({ type: 'ice.candidate', call_id: 'c', candidate: 'early', sdp_mid: '0', sdp_m_line_index: 0 });
    env.ws.receive({ type: 'sdp.offer', call_id: 'c', sdp: 'o' });
    await flush();
    expect(env.pc.log).toEqual(['remote:offer']);
    expect(env.pc.candidates).toEqual([{ candidate: 'early', sdpMid: '0', sdpMLineIndex: 0 }]);
  });

  it('rejects silently without a reason, with busy when asked, once', async () => {
    const env = await ready();
    const a = await ring(env, 'a');
    a.reject();
    a.reject('busy');
    a.hangup();
    expect(env.ws.ofType('call.reject')).toEqual([{ type: 'call.reject', call_id: 'a' }]);
    expect(env.ws.ofType('call.hangup')).toHaveLength(0);
    env.ws.receive({ type: 'call.ended', call_id: 'a', reason: 'rejected', duration_seconds: null });
    expect(a.state).toBe('ended');
    const b = await ring(env, 'b');
    b.reject('busy');
    expect(env.ws.last('call.reject')).toEqual({ type: 'call.reject', call_id: 'b', reason: 'busy' });
    b.reject('decline');
    expect(env.ws.ofType('call.reject')).toHaveLength(2);
  });

  it('does not reject an answered call', async () => {
    const env = await ready();
    const call = await ring(env);
    await call.answer();
    call.reject();
    expect(env.ws.ofType('call.reject')).toHaveLength(0);
  });

  it('rejects answer() on an outbound call', async () => {
    const env = await ready();
    const call = await dial(env);
    await expect(call.answer()).rejects.toMatchObject({ code: 'invalid_state' });
  });

  it('answer() rejects with media_denied and the call keeps ringing', async () => {
    const env = await ready({ denyMic: true });
    const call = await ring(env);
    await expect(call.answer()).rejects.toMatchObject({ code: 'media_denied', callId: 'call_in' });
    expect(call.state).toBe('ringing');
    expect(env.ws.ofType('call.answer')).toHaveLength(0);
  });

  it('answer() on a call that ended meanwhile sends nothing', async () => {
    const env = await ready();
    const call = await ring(env);
    const p = call.answer();
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'answered-elsewhere', duration_seconds: null });
    await p;
    expect(env.ws.ofType('call.answer')).toHaveLength(0);
    expect(call.endReason).toBe('answered-elsewhere');
    expect(env.streams[0]!.tracks[0]!.stopped).toBe(true);
    await call.answer(); // on an ended call: no-op
  });

  it('answers a re-offer on an answered call', async () => {
    const env = await ready();
    const call = await ring(env);
    await call.answer();
    env.ws.receive({ type: 'call.answered', call_id: call.id, answered_at: '2030-01-01T00:00:00Z' });
    env.ws.receive({ type: 'sdp.offer', call_id: call.id, sdp: 'offer-2' });
    await flush();
    expect(env.ws.ofType('sdp.answer')).toHaveLength(2);
    expect(env.pc.remoteDescription?.sdp).toBe('offer-2');
  });

  it('emits an error and declines when the offer cannot be applied', async () => {
    const env = await ready({ pcTweak: (pc) => (pc.failRemote = true) });
    const incoming = vi.fn();
    const errors: PhoneError[] = [];
    env.phone.on('incoming', incoming);
    env.phone.on('error', (e) => errors.push(e));
    env.ws.receive({ type: 'call.incoming', call_id: 'c', from: '1', from_name: '', to: '2' });
    env.ws.receive({ type: 'sdp.offer', call_id: 'c', sdp: 'garbage' });
    await flush();
    expect(incoming).not.toHaveBeenCalled();
    expect(errors[0]).toMatchObject({ code: 'webrtc_failed', callId: 'c' });
    expect(env.ws.last('call.reject')).toEqual({ type: 'call.reject', call_id: 'c' });
  });

  it('calls the ringtone hook and stops it on answer', async () => {
    const stop = vi.fn();
    const ringtone = vi.fn(() => stop);
    const env = await ready({ ringtone });
    const call = await ring(env);
    expect(ringtone).toHaveBeenCalledWith(call);
    expect(stop).not.toHaveBeenCalled();
    await call.answer();
    expect(stop).toHaveBeenCalled();
  });

  it('stops the ringtone when the caller hangs up', async () => {
    const stop = vi.fn();
    const env = await ready({ ringtone: () => stop });
    const call = await ring(env);
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'hangup', duration_seconds: null });
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('answering a second call never holds the first', async () => {
    const env = await ready();
    const first = await ring(env, 'a');
    await first.answer();
    env.ws.receive({ type: 'call.answered', call_id: 'a', answered_at: '2030-01-01T00:00:00Z' });
    let waiting = false;
    env.phone.on('incoming', () => (waiting = env.phone.activeCalls.length > 0));
    const second = await ring(env, 'b');
    expect(waiting).toBe(true);
    await second.answer();
    expect(env.ws.ofType('call.hold')).toHaveLength(0);
    expect(first.state).toBe('active');
    expect(env.phone.activeCalls.map((c) => c.id)).toEqual(['a', 'b']);
  });
});

describe('call control', () => {
  async function active(env: Env, id = 'call_x'): Promise<Call> {
    const call = await dial(env, '105', id);
    env.ws.receive({ type: 'sdp.answer', call_id: id, sdp: 'a' });
    env.ws.receive({ type: 'call.answered', call_id: id, answered_at: new Date().toISOString() });
    await flush();
    return call;
  }

  it('hold and resume send requests; the server events drive the state', async () => {
    const env = await ready();
    const call = await active(env);
    const events = record(call);
    call.hold();
    expect(env.ws.last('call.hold')).toEqual({ type: 'call.hold', call_id: call.id });
    expect(call.state).toBe('active');
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'local' });
    expect(call.state).toBe('held');
    expect(call.isHeld).toBe(true);
    expect(call.heldBy).toBe('local');
    call.resume();
    expect(env.ws.last('call.resume')).toEqual({ type: 'call.resume', call_id: call.id });
    env.ws.receive({ type: 'call.resumed', call_id: call.id });
    expect(call.state).toBe('active');
    expect(call.heldBy).toBeNull();
    expect(events).toEqual(['held:local', 'resumed']);
  });

  it('resume sends nothing when this device holds nothing and asked for no hold', async () => {
    const env = await ready();
    const call = await active(env);
    call.resume();
    expect(env.ws.ofType('call.resume')).toEqual([]);
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'remote' });
    call.resume(); // their hold is theirs to lift
    expect(env.ws.ofType('call.resume')).toEqual([]);
    call.hold(); // a resume right after a hold, before call.held, is sent
    call.resume();
    expect(env.ws.ofType('call.resume')).toEqual([{ type: 'call.resume', call_id: call.id }]);
  });

  it('follows a hold by the other party', async () => {
    const env = await ready();
    const call = await active(env);
    const events = record(call);
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'remote' });
    expect(call.heldBy).toBe('remote');
    env.ws.receive({ type: 'call.resumed', call_id: call.id });
    expect(events).toEqual(['held:remote', 'resumed']);
  });

  it('tracks both sides holding at once', async () => {
    const env = await ready();
    const call = await active(env);
    const events = record(call);
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'local' });
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'remote' });
    expect(call.heldBy).toBe('local');
    call.resume();
    env.ws.receive({ type: 'call.resumed', call_id: call.id }); // ours ended; still held by them
    expect(call.state).toBe('held');
    expect(call.heldBy).toBe('remote');
    env.ws.receive({ type: 'call.resumed', call_id: call.id });
    expect(call.state).toBe('active');
    expect(events).toEqual(['held:local', 'held:remote', 'held:remote', 'resumed']);
  });

  it('ignores hold events on a call not connected', async () => {
    const env = await ready();
    const call = await dial(env);
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'remote' });
    env.ws.receive({ type: 'call.resumed', call_id: call.id });
    expect(call.state).toBe('trying');
  });

  it('mute disables the track, sends call.mute and is immediate; unmute mirrors', async () => {
    const env = await ready();
    const call = await active(env);
    const events = record(call);
    const track = env.streams[0]!.tracks[0]!;
    call.mute();
    expect(call.isMuted).toBe(true);
    expect(track.enabled).toBe(false);
    expect(env.ws.last('call.mute')).toEqual({ type: 'call.mute', call_id: call.id });
    call.mute();
    expect(env.ws.ofType('call.mute')).toHaveLength(1);
    call.unmute();
    expect(call.isMuted).toBe(false);
    expect(track.enabled).toBe(true);
    expect(env.ws.last('call.unmute')).toEqual({ type: 'call.unmute', call_id: call.id });
    expect(events).toEqual(['muted', 'unmuted']);
  });

  it('mute before answering applies to the track it answers with', async () => {
    const env = await ready();
    const call = await ring(env);
    call.mute();
    expect(env.ws.last('call.mute')).toEqual({ type: 'call.mute', call_id: call.id });
    await call.answer();
    expect(env.streams[0]!.tracks[0]!.enabled).toBe(false);
  });

  it('hangup is idempotent and a no-op once ended; nothing throws on an ended call', async () => {
    const env = await ready();
    const call = await active(env);
    call.hangup();
    call.hangup();
    expect(env.ws.ofType('call.hangup')).toEqual([{ type: 'call.hangup', call_id: call.id }]);
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'hangup', duration_seconds: 3 });
    const before = env.ws.sent.length;
    expect(() => {
      call.hangup();
      call.hold();
      call.resume();
      call.mute();
      call.unmute();
      call.reject();
      call.transfer('106');
      call.completeTransfer();
      call.sendDtmf('1');
    }).not.toThrow();
    await call.answer();
    await expect(call.attendedTransfer('106')).rejects.toMatchObject({ code: 'invalid_state' });
    expect(env.ws.sent.length).toBe(before);
    expect(call.isMuted).toBe(false);
  });

  it('hangup cancels an outbound call still ringing and stops ringback at once', async () => {
    FakeAudioContext.started = FakeAudioContext.stopped = 0;
    const env = await ready({ AudioContext: FakeAudioContext as never });
    const call = await dial(env);
    env.ws.receive({ type: 'call.ringing', call_id: call.id });
    call.hangup();
    expect(FakeAudioContext.stopped).toBe(2);
    expect(env.ws.last('call.hangup').call_id).toBe(call.id);
  });

  it('sendDtmf uses the audio sender’s RTCDTMFSender', async () => {
    const env = await ready();
    const call = await active(env);
    call.sendDtmf('1234#');
    call.sendDtmf('*9', 200, 100);
    expect(env.pc.senders[0]!.dtmf!.inserted).toEqual([
      ['1234#', 100, 70],
      ['*9', 200, 100],
    ]);
    expect(() => call.sendDtmf('12x')).toThrow(PhoneError);
  });

  it('sendDtmf throws invalid_state without a DTMF sender', async () => {
    const env = await ready();
    const call = await active(env);
    env.pc.senders[0]!.dtmf = null;
    expect(() => call.sendDtmf('1')).toThrow(expect.objectContaining({ code: 'invalid_state' }));
  });

  it('restarts ICE when the connection fails', async () => {
    const env = await ready();
    const call = await active(env);
    env.pc.setIceState('failed');
    await flush();
    expect(env.ws.last('sdp.offer')).toEqual({ type: 'sdp.offer', call_id: call.id, sdp: 'offer-2-restart' });
    env.ws.receive({ type: 'sdp.answer', call_id: call.id, sdp: 'restart-answer' });
    await flush();
    expect(env.pc.remoteDescription?.sdp).toBe('restart-answer');
  });
});

describe('activeCalls and summaries', () => {
  it('lists live calls with plain summaries', async () => {
    const env = await ready();
    const out = await dial(env, '+14155551234', 'o');
    const inb = await ring(env, 'i', '+14155550100');
    env.ws.receive({ type: 'sdp.answer', call_id: 'o', sdp: 'a' });
    env.ws.receive({ type: 'call.answered', call_id: 'o', answered_at: '2030-01-01T00:00:00Z' });
    env.ws.receive({ type: 'call.held', call_id: 'o', held_by: 'local' });
    const calls = env.phone.activeCalls;
    expect(calls.map((c) => [c.id, c.state, c.direction])).toEqual([
      ['o', 'held', 'outbound'],
      ['i', 'ringing', 'inbound'],
    ]);
    expect(JSON.parse(JSON.stringify(calls))).toEqual([
      { id: 'o', from: 'user_alice', to: '+14155551234', state: 'held', direction: 'outbound' },
      { id: 'i', from: '+14155550100', to: '101', state: 'ringing', direction: 'inbound' },
    ]);
    expect(env.phone.getCall('o')).toBe(out);
    expect(env.phone.getCall('i')).toBe(inb);
    expect(env.phone.getCall('nope')).toBeUndefined();
    env.ws.receive({ type: 'call.ended', call_id: 'i', reason: 'hangup', duration_seconds: null });
    expect(env.phone.activeCalls).toEqual([out]);
  });

  it('removes a call from activeCalls before its ended listeners run', async () => {
    const env = await ready();
    const call = await dial(env);
    let inside = -1;
    call.on('ended', () => (inside = env.phone.activeCalls.length));
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'failed', duration_seconds: null });
    expect(inside).toBe(0);
  });

  it('ends with statechange then ended, released and forgotten before either', async () => {
    const env = await ready();
    const call = await dial(env);
    const seen: string[] = [];
    const look = (e: string) => () =>
      seen.push(`${e}:${call.state}:${env.pc.closed}:${env.phone.getCall(call.id) === undefined}:${call.endReason}`);
    call.on('statechange', look('statechange')).on('ended', look('ended'));
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'busy', duration_seconds: null });
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'busy', duration_seconds: null });
    expect(seen).toEqual(['statechange:ended:true:true:busy', 'ended:ended:true:true:busy']);
  });
});

describe('presence', () => {
  it('subscribes, emits list and updates, reports presence_unavailable', async () => {
    const env = await ready();
    const events: unknown[] = [];
    const errors: PhoneError[] = [];
    env.phone.on('presence', (e) => events.push(e));
    env.phone.on('error', (e) => errors.push(e));
    env.phone.subscribePresence(['user_bob', 'user_carol']);
    const sub = env.ws.last('presence.subscribe');
    expect(sub).toEqual({ type: 'presence.subscribe', req_id: expect.any(String), users: ['user_bob', 'user_carol'] });
    const entry = { user_id: 'user_bob', name: 'Bob', status: 'available', do_not_disturb: false, updated_at: '2030-01-01T00:00:00Z' };
    env.ws.receive({ type: 'presence.list', req_id: sub.req_id as string, users: [entry] });
    env.ws.receive({ type: 'presence.update', ...entry, status: 'on_call' });
    expect(events).toEqual([
      { type: 'presence.list', req_id: sub.req_id, users: [entry] },
      { type: 'presence.update', ...entry, status: 'on_call' },
    ]);
    env.ws.receive({
      type: 'error',
      code: 'presence_unavailable',
      message: 'unknown users',
      req_id: sub.req_id as string,
      context: { users: ['user_carol'] },
    });
    expect(errors[0]).toMatchObject({ code: 'presence_unavailable', context: { users: ['user_carol'] } });
  });

  it('batches more than 100 users and resubscribes after a reconnect', async () => {
    vi.useFakeTimers();
    const env = await ready();
    const users = Array.from({ length: 150 }, (_, i) => `user_${i}`);
    env.phone.subscribePresence(users);
    expect(env.ws.ofType('presence.subscribe').map((f) => (f.users as string[]).length)).toEqual([100, 50]);
    env.ws.drop();
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ type: 'authenticated', user_id: 'user_alice', account_id: 'a', session_id: 'sess_1', reconnected: true });
    expect(env.ws.ofType('presence.subscribe').map((f) => (f.users as string[]).length)).toEqual([100, 50]);
  });

  it('subscribes on connect when asked before', async () => {
    const env = setup();
    env.phone.subscribePresence(['user_bob']);
    await connect(env);
    expect(env.ws.last('presence.subscribe').users).toEqual(['user_bob']);
  });
});

describe('server refusals', () => {
  it('call_not_found for a known call ends it locally', async () => {
    const env = await ready();
    const call = await dial(env);
    const events = record(call);
    call.hangup();
    env.ws.receive({ type: 'error', code: 'call_not_found', message: 'no such call', call_id: call.id });
    expect(events).toEqual(['error:call_not_found', 'ended:hangup']);
    expect(env.phone.activeCalls).toEqual([]);
  });

  it('invalid_message about a call is an error event; the call is unchanged', async () => {
    const env = await ready();
    const call = await dial(env);
    const events = record(call);
    call.hold();
    env.ws.receive({ type: 'error', code: 'invalid_message', message: 'call.hold: the call is not active', call_id: call.id });
    expect(events).toEqual(['error:invalid_message']);
    expect(call.state).toBe('trying');
  });
});
