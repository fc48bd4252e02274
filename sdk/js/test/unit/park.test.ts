// Call park against the fake socket (protocol.md "Call park"): park()
// resolves with the slot from call.parked, then the call ends transferred;
// park_full rejects and the call goes on.
import { describe, expect, it } from 'vitest';
import { Call, PhoneError } from '../../src/index.js';
import { connect, dial, flush, setup, type Env } from './fakes.js';

async function active(): Promise<{ env: Env; call: Call }> {
  const env = setup({});
  await connect(env);
  const call = await dial(env, '102', 'orig');
  env.ws.receive({ type: 'sdp.answer', call_id: 'orig', sdp: 'a' });
  env.ws.receive({ type: 'call.answered', call_id: 'orig', answered_at: new Date().toISOString() });
  await flush();
  return { env, call };
}

describe('call park', () => {
  it('resolves with the slot; the call then ends transferred', async () => {
    const { env, call } = await active();
    const p = call.park();
    const req = env.ws.last('call.park');
    expect(req).toMatchObject({ type: 'call.park', call_id: 'orig' });
    expect(typeof req.req_id).toBe('string');
    env.ws.receive({ type: 'call.parked', call_id: 'orig', req_id: req.req_id as string, slot: '701' });
    await expect(p).resolves.toBe('701');
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'transferred', duration_seconds: 3 });
    expect(call.endReason).toBe('transferred');
    expect(env.phone.activeCalls).toEqual([]);
  });

  it('rejects with park_full and the call goes on', async () => {
    const { env, call } = await active();
    const p = call.park();
    const req = env.ws.last('call.park');
    env.ws.receive({ type: 'error', code: 'park_full', call_id: 'orig', req_id: req.req_id as string, message: 'full' });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PhoneError);
    expect((err as PhoneError).code).toBe('park_full');
    expect(call.state).toBe('active');
  });

  it('rejects on an ended call, or when the call ends first', async () => {
    const { env, call } = await active();
    const p = call.park();
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'hangup', duration_seconds: 1 });
    await expect(p).rejects.toMatchObject({ code: 'invalid_state' });
    await expect(call.park()).rejects.toMatchObject({ code: 'invalid_state' });
  });
});
