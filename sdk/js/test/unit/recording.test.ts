import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RecordingState } from '../../src/index.js';
import { AUTHENTICATED, connect, dial, flush, setup } from './fakes.js';

describe('call recording', () => {
  it('sends call.record and follows call.recording', async () => {
    const env = setup();
    await connect(env);
    const call = await dial(env, '105', 'call_1');
    const got: RecordingState[] = [];
    call.on('recording', (s) => got.push(s));
    expect(call.recordingState).toBeNull();

    call.startRecording();
    const sent = env.ws.last('call.record');
    expect(sent).toMatchObject({ type: 'call.record', call_id: 'call_1', action: 'start' });
    expect(sent.req_id).toBeTruthy();
    env.ws.receive({ type: 'call.recording', req_id: sent.req_id, call_id: 'call_1', recording_id: 'rec_1', state: 'recording' });
    call.record('pause');
    expect(env.ws.last('call.record').action).toBe('pause');
    env.ws.receive({ type: 'call.recording', call_id: 'call_1', recording_id: 'rec_1', state: 'paused' });
    expect(got).toEqual(['recording', 'paused']);
    expect(call.recordingState).toBe('paused');

    const errors: string[] = [];
    call.on('error', (e) => errors.push(e.code));
    call.stopRecording();
    env.ws.receive({ type: 'error', code: 'recording_not_allowed', message: 'always', call_id: 'call_1', req_id: env.ws.last('call.record').req_id });
    expect(errors).toEqual(['recording_not_allowed']);

    env.ws.receive({ type: 'call.ended', call_id: 'call_1', reason: 'hangup', duration_seconds: 10 });
    const before = env.ws.sent.length;
    call.record('start');
    expect(env.ws.sent.length).toBe(before);
    env.ws.receive({ type: 'call.recording', call_id: 'call_1', recording_id: 'rec_1', state: 'stopped' });
    expect(got).toEqual(['recording', 'paused']);
  });
});

describe('call recording after a reconnect', () => {
  const restored = (state: 'active' | 'held', recording?: { recording_id: string; state: RecordingState }) => ({
    type: 'call.restored',
    call_id: 'call_1',
    state,
    from: 'user_alice',
    from_name: '',
    to: '105',
    direction: 'outbound',
    answered_at: '2030-01-01T00:00:00Z',
    muted: false,
    ...(recording ? { recording } : {}),
  });

  async function reconnect(env: ReturnType<typeof setup>): Promise<void> {
    env.ws.drop();
    await vi.advanceTimersByTimeAsync(1_200);
    env.ws.open();
    env.ws.receive({ ...AUTHENTICATED, reconnected: true });
    await flush();
  }

  afterEach(() => vi.useRealTimers());

  it('takes the recording state from call.restored, as call.recording would', async () => {
    vi.useFakeTimers();
    const env = setup();
    await connect(env);
    const call = await dial(env, '105', 'call_1');
    env.ws.receive({ type: 'call.answered', call_id: 'call_1', answered_at: '2030-01-01T00:00:00Z' });
    const got: string[] = [];
    call.on('recording', (s) => got.push(s));
    call.on('restored', () => got.push('restored'));

    // Not recorded, restored without one: nothing to tell.
    await reconnect(env);
    env.ws.receive(restored('active'));
    expect(call.recordingState).toBeNull();
    expect(got).toEqual(['restored']);

    // Recorded while the socket was down (the notice was lost): recording.
    await reconnect(env);
    env.ws.receive(restored('active', { recording_id: 'rec_1', state: 'recording' }));
    expect(call.recordingState).toBe('recording');
    // Paused while down.
    await reconnect(env);
    env.ws.receive(restored('held', { recording_id: 'rec_1', state: 'paused' }));
    expect(call.recordingState).toBe('paused');
    // Same state again: no event.
    await reconnect(env);
    env.ws.receive(restored('held', { recording_id: 'rec_1', state: 'paused' }));
    // Stopped while down: restored without a recording.
    await reconnect(env);
    env.ws.receive(restored('active'));
    expect(call.recordingState).toBe('stopped');
    expect(got).toEqual(['restored', 'recording', 'restored', 'paused', 'restored', 'restored', 'stopped', 'restored']);
  });
});
