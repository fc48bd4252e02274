import { describe, expect, it } from 'vitest';
import type { RecordingState } from '../../src/index.js';
import { connect, dial, setup } from './fakes.js';

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
