// Merging two calls into a conference against the fake socket, following
// what the server does (docs/protocol.md "Conference"): the merged call ends
// `merged`, the kept call gets conference.updated with the participants.
import { describe, expect, it } from 'vitest';
import { Call, PhoneError, type ConferenceParticipant } from '../../src/index.js';
import { connect, dial, flush, setup, type Env } from './fakes.js';

async function active(env: Env, id: string, dest: string): Promise<Call> {
  const call = await dial(env, dest, id);
  env.ws.receive({ type: 'sdp.answer', call_id: id, sdp: 'a' });
  env.ws.receive({ type: 'call.answered', call_id: id, answered_at: new Date().toISOString() });
  await flush();
  return call;
}

const parts: ConferenceParticipant[] = [
  { participant_id: 'leg_a', number: '102', host: true, muted: false, held: false },
  { participant_id: 'leg_b', number: '101', host: false, muted: false, held: false },
  { participant_id: 'leg_c', number: '103', host: false, muted: false, held: false },
];

describe('merge', () => {
  it('sends call.merge, ends the other call merged and reports the participants', async () => {
    const env = setup();
    await connect(env);
    const first = await active(env, 'call_1', '101');
    const second = await active(env, 'call_2', '103');
    const seen: ConferenceParticipant[][] = [];
    first.on('conference', (p) => seen.push(p));
    const ended: string[] = [];
    second.on('ended', (r) => ended.push(r));

    first.merge(second);
    const req = env.ws.last('call.merge');
    expect(req).toMatchObject({ type: 'call.merge', call_id: 'call_1', with_call_id: 'call_2' });
    expect(typeof req.req_id).toBe('string');

    env.ws.receive({ type: 'call.ended', call_id: 'call_2', reason: 'merged', duration_seconds: 3 });
    env.ws.receive({ type: 'conference.updated', call_id: 'call_1', req_id: req.req_id as string, participants: parts });
    await flush();
    expect(ended).toEqual(['merged']);
    expect(second.endReason).toBe('merged');
    expect(seen).toEqual([parts]);
    expect(first.participants).toEqual(parts);
    expect(first.state).toBe('active');

    first.add('105');
    expect(env.ws.last('call.add')).toMatchObject({ call_id: 'call_1', destination: '105' });

    first.muteParticipant('leg_c');
    expect(env.ws.last('call.participant.mute')).toMatchObject({ call_id: 'call_1', participant_id: 'leg_c', muted: true });
    first.muteParticipant('leg_c', false);
    expect(env.ws.last('call.participant.mute').muted).toBe(false);
    first.removeParticipant('leg_b');
    expect(env.ws.last('call.participant.remove')).toMatchObject({ call_id: 'call_1', participant_id: 'leg_b' });
  });

  it('refuses a call merged with itself and does nothing on ended calls', async () => {
    const env = setup();
    await connect(env);
    const first = await active(env, 'call_1', '101');
    expect(() => first.merge(first)).toThrow(PhoneError);
    const second = await active(env, 'call_2', '103');
    env.ws.receive({ type: 'call.ended', call_id: 'call_2', reason: 'hangup', duration_seconds: 1 });
    await flush();
    first.merge(second);
    expect(env.ws.ofType('call.merge')).toHaveLength(0);
  });

  it('reports a refusal as an error on the call, which goes on', async () => {
    const env = setup();
    await connect(env);
    const first = await active(env, 'call_1', '101');
    const second = await active(env, 'call_2', '103');
    const errors: string[] = [];
    first.on('error', (e) => errors.push(e.code));
    first.merge(second);
    const req = env.ws.last('call.merge');
    env.ws.receive({ type: 'error', code: 'conference_full', call_id: 'call_1', req_id: req.req_id as string, message: 'full' });
    await flush();
    expect(errors).toEqual(['conference_full']);
    expect(first.state).toBe('active');
  });
});
