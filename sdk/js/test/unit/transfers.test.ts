// Blind and attended transfers against the fake socket, following what the
// server does (protocol §4): the transferor's calls end `transferred`; an
// attended transfer's original is held by the server and resumed by it when
// the consult call ends without a completion.
import { describe, expect, it } from 'vitest';
import { Call, PhoneError } from '../../src/index.js';
import { connect, dial, FakeAudioContext, flush, ring, setup, type Env } from './fakes.js';

async function ready(o: Parameters<typeof setup>[0] = {}): Promise<Env> {
  const env = setup(o);
  await connect(env);
  return env;
}

/** An answered outbound call. */
async function active(env: Env, id = 'orig'): Promise<Call> {
  const call = await dial(env, '102', id);
  env.ws.receive({ type: 'sdp.answer', call_id: id, sdp: 'a' });
  env.ws.receive({ type: 'call.answered', call_id: id, answered_at: new Date().toISOString() });
  await flush();
  return call;
}

function record(call: Call): string[] {
  const events: string[] = [];
  for (const e of ['trying', 'ringing', 'answered', 'resumed'] as const) call.on(e, () => events.push(e));
  call.on('held', (by) => events.push(`held:${by}`));
  call.on('ended', (r) => events.push(`ended:${r}`));
  call.on('error', (e) => events.push(`error:${e.code}`));
  return events;
}

function phoneErrors(env: Env): PhoneError[] {
  const errors: PhoneError[] = [];
  env.phone.on('error', (e) => errors.push(e));
  return errors;
}

/**
 * Starts an attended transfer from `original` the way the server answers
 * it: call.held local on the original, then call.trying for the consult.
 */
async function consult(env: Env, original: Call, id = 'consult', destination = '105'): Promise<Call> {
  const p = original.attendedTransfer(destination);
  await flush();
  const req = env.ws.last('call.transfer.attended');
  env.ws.receive({ type: 'call.held', call_id: original.id, held_by: 'local' });
  env.ws.receive({ type: 'call.trying', call_id: id, req_id: req.req_id as string });
  const call = await p;
  await flush();
  return call;
}

function answer(env: Env, id: string): void {
  env.ws.receive({ type: 'call.ringing', call_id: id });
  env.ws.receive({ type: 'sdp.answer', call_id: id, sdp: 'a' });
  env.ws.receive({ type: 'call.answered', call_id: id, answered_at: new Date().toISOString() });
}

describe('blind transfer', () => {
  it('sends call.transfer; the call ends transferred and leaves activeCalls', async () => {
    const env = await ready();
    const call = await active(env);
    const events = record(call);
    call.transfer('105');
    expect(env.ws.last('call.transfer')).toEqual({ type: 'call.transfer', call_id: 'orig', destination: '105' });
    expect(call.state).toBe('active'); // the server decides
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'transferred', duration_seconds: 10 });
    expect(events).toEqual(['ended:transferred']);
    expect(call.endReason).toBe('transferred');
    expect(call.peerConnection).toMatchObject({ closed: true });
    expect(env.phone.activeCalls).toEqual([]);
  });

  it('a held call can be transferred too', async () => {
    const env = await ready();
    const call = await active(env);
    env.ws.receive({ type: 'call.held', call_id: 'orig', held_by: 'local' });
    call.transfer('+14155551234');
    expect(env.ws.last('call.transfer').destination).toBe('+14155551234');
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'transferred', duration_seconds: 10 });
    expect(call.state).toBe('ended');
  });

  it("the guide's second call.transfer crosses the end: its call_not_found is no error", async () => {
    const env = await ready();
    const errors = phoneErrors(env);
    const call = await active(env);
    const events = record(call);
    call.transfer('105');
    call.transfer('+14155551234');
    expect(env.ws.ofType('call.transfer').map((f) => f.destination)).toEqual(['105', '+14155551234']);
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'transferred', duration_seconds: 3 });
    env.ws.receive({ type: 'error', code: 'call_not_found', message: 'this call is over for this device', call_id: 'orig' });
    expect(events).toEqual(['ended:transferred']);
    expect(errors).toEqual([]);
  });

  it('call_not_found about a call this phone never had is still reported', async () => {
    const env = await ready();
    const errors = phoneErrors(env);
    env.ws.receive({ type: 'error', code: 'call_not_found', message: 'no such call', call_id: 'call_other' });
    expect(errors.map((e) => e.code)).toEqual(['call_not_found']);
  });

  it('an unroutable destination is an error on the call and the phone; the call goes on', async () => {
    const env = await ready();
    const errors = phoneErrors(env);
    const call = await active(env);
    const events = record(call);
    call.transfer('999');
    env.ws.receive({ type: 'error', code: 'call_failed', message: 'call.transfer: 999 cannot be reached', call_id: 'orig' });
    expect(events).toEqual(['error:call_failed']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'call_failed', callId: 'orig', fatal: false });
    expect(call.state).toBe('active');
    call.transfer('105'); // and may be tried again
    expect(env.ws.ofType('call.transfer')).toHaveLength(2);
  });

  it('the transferred party: held by the transferor, resumed when the target answers', async () => {
    const env = await ready();
    const call = await ring(env, 'in', '101');
    await call.answer();
    env.ws.receive({ type: 'call.answered', call_id: 'in', answered_at: new Date().toISOString() });
    const events = record(call);
    env.ws.receive({ type: 'call.held', call_id: 'in', held_by: 'remote' });
    // The transferor transfers: no event while the target rings, then one resume.
    env.ws.receive({ type: 'call.resumed', call_id: 'in' });
    expect(events).toEqual(['held:remote', 'resumed']);
    expect(call.state).toBe('active');
    expect(env.ws.ofType('call.resume')).toEqual([]);
  });
});

describe('attended transfer', () => {
  it('consult → answered → complete: both calls end transferred', async () => {
    const env = await ready();
    const errors = phoneErrors(env);
    const original = await active(env);
    const origEvents = record(original);
    const p = original.attendedTransfer('105');
    await flush();
    const req = env.ws.last('call.transfer.attended');
    expect(req).toEqual({
      type: 'call.transfer.attended',
      req_id: expect.any(String),
      call_id: 'orig',
      step: 'consult',
      destination: '105',
      sdp: 'offer-1',
    });
    const consultPc = env.pc;
    env.ws.receive({ type: 'call.held', call_id: 'orig', held_by: 'local' });
    env.ws.receive({ type: 'call.trying', call_id: 'consult', req_id: req.req_id as string });
    const consultCall = await p;
    expect(consultCall).toBeInstanceOf(Call);
    expect(consultCall).toMatchObject({ id: 'consult', to: '105', direction: 'outbound', state: 'trying' });
    expect(consultCall.peerConnection).toBe(consultPc);
    expect(consultCall.peerConnection).not.toBe(original.peerConnection);
    expect(original).toMatchObject({ state: 'held', heldBy: 'local' });
    expect(env.phone.activeCalls.map((c) => c.id)).toEqual(['orig', 'consult']);
    const consultEvents = record(consultCall);

    consultCall.on('answered', () => original.completeTransfer());
    answer(env, 'consult');
    expect(env.ws.last('call.transfer.attended')).toEqual({
      type: 'call.transfer.attended',
      req_id: expect.any(String),
      call_id: 'orig',
      step: 'complete',
    });
    // The server ends the consult first, then the original.
    env.ws.receive({ type: 'call.ended', call_id: 'consult', reason: 'transferred', duration_seconds: 1 });
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'transferred', duration_seconds: 5 });
    expect(origEvents).toEqual(['held:local', 'ended:transferred']);
    expect(consultEvents).toEqual(['ringing', 'answered', 'ended:transferred']);
    expect(env.phone.activeCalls).toEqual([]);
    expect(env.ws.ofType('call.resume')).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('completeTransfer is sent once; after a refusal it can be sent again', async () => {
    const env = await ready();
    const original = await active(env);
    const consultCall = await consult(env, original);
    original.completeTransfer();
    original.completeTransfer();
    expect(env.ws.ofType('call.transfer.attended').filter((f) => f.step === 'complete')).toHaveLength(1);
    env.ws.receive({
      type: 'error',
      code: 'call_failed',
      message: 'call.transfer.attended: the consultation call is not answered yet',
      call_id: 'orig',
    });
    expect(original.state).toBe('held');
    answer(env, consultCall.id);
    original.completeTransfer();
    expect(env.ws.ofType('call.transfer.attended').filter((f) => f.step === 'complete')).toHaveLength(2);
  });

  it("cancel (the guide's consultCall.hangup()): the server resumes the original; the SDK sends no call.resume", async () => {
    const env = await ready();
    const errors = phoneErrors(env);
    const original = await active(env);
    const consultCall = await consult(env, original);
    const origEvents = record(original);
    answer(env, 'consult');
    consultCall.hangup();
    expect(env.ws.last('call.hangup')).toEqual({ type: 'call.hangup', call_id: 'consult' });
    // An app that also resumes, as for a plain hold, sends nothing: a
    // call.resume racing the server's own resume would be refused.
    original.resume();
    env.ws.receive({ type: 'call.ended', call_id: 'consult', reason: 'hangup', duration_seconds: 2 });
    original.resume();
    expect(original.state).toBe('held');
    env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
    expect(origEvents).toEqual(['resumed']);
    expect(original).toMatchObject({ state: 'active', heldBy: null, isHeld: false });
    expect(consultCall.endReason).toBe('hangup');
    expect(env.ws.ofType('call.resume')).toEqual([]);
    expect(env.phone.activeCalls).toEqual([original]);
    expect(errors).toEqual([]);
    // Later holds and resumes are ordinary again.
    original.hold();
    env.ws.receive({ type: 'call.held', call_id: 'orig', held_by: 'local' });
    original.resume();
    expect(env.ws.ofType('call.resume')).toEqual([{ type: 'call.resume', call_id: 'orig' }]);
  });

  it.each(['busy', 'no-answer', 'rejected', 'failed'] as const)(
    'consult %s: the original resumes by itself',
    async (reason) => {
      const env = await ready();
      const original = await active(env);
      const consultCall = await consult(env, original);
      const origEvents = record(original);
      env.ws.receive({ type: 'call.ended', call_id: 'consult', reason, duration_seconds: null });
      expect(consultCall.endReason).toBe(reason);
      original.resume();
      env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
      expect(origEvents).toEqual(['resumed']);
      expect(original.state).toBe('active');
      expect(env.ws.ofType('call.resume')).toEqual([]);
    },
  );

  it.each(['busy', 'no-answer'] as const)(
    'consult %s: the original resumed before the consult ends; an app resume sends nothing',
    async (reason) => {
      const env = await ready();
      const errors = phoneErrors(env);
      const original = await active(env);
      const consultCall = await consult(env, original);
      const origEvents = record(original);
      // The two calls' frames come in either order: here the resume first.
      env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
      expect(original.state).toBe('active');
      consultCall.on('ended', () => original.resume());
      env.ws.receive({ type: 'call.ended', call_id: 'consult', reason, duration_seconds: null });
      expect(consultCall.endReason).toBe(reason);
      expect(origEvents).toEqual(['resumed']);
      expect(env.ws.ofType('call.resume')).toEqual([]);
      expect(errors).toEqual([]);
    },
  );

  it('auto-resume while the other party also holds: the original stays held by them', async () => {
    const env = await ready();
    const original = await active(env);
    const consultCall = await consult(env, original);
    env.ws.receive({ type: 'call.held', call_id: 'orig', held_by: 'remote' });
    const origEvents = record(original);
    consultCall.hangup();
    env.ws.receive({ type: 'call.ended', call_id: 'consult', reason: 'hangup', duration_seconds: 1 });
    env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
    expect(original).toMatchObject({ state: 'held', heldBy: 'remote' });
    expect(origEvents).toEqual(['held:remote']);
    env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
    expect(original.state).toBe('active');
  });

  it('swapping back to the original during the consult is a plain resume', async () => {
    const env = await ready();
    const original = await active(env);
    const consultCall = await consult(env, original);
    answer(env, 'consult');
    consultCall.hold();
    original.resume();
    expect(env.ws.ofType('call.resume')).toEqual([{ type: 'call.resume', call_id: 'orig' }]);
    env.ws.receive({ type: 'call.held', call_id: 'consult', held_by: 'local' });
    env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
    expect(original.state).toBe('active');
    // Hanging up the consult now leaves an active original alone.
    consultCall.hangup();
    env.ws.receive({ type: 'call.ended', call_id: 'consult', reason: 'hangup', duration_seconds: 1 });
    original.hold();
    env.ws.receive({ type: 'call.held', call_id: 'orig', held_by: 'local' });
    original.resume();
    expect(env.ws.ofType('call.resume')).toHaveLength(2);
  });

  it('the original ending during the consult leaves the consult an ordinary call', async () => {
    const env = await ready();
    const original = await active(env);
    const consultCall = await consult(env, original);
    answer(env, 'consult');
    env.ws.receive({ type: 'call.ended', call_id: 'orig', reason: 'hangup', duration_seconds: 4 });
    expect(consultCall.state).toBe('active');
    consultCall.hold();
    env.ws.receive({ type: 'call.held', call_id: 'consult', held_by: 'local' });
    consultCall.resume();
    expect(env.ws.last('call.resume')).toEqual({ type: 'call.resume', call_id: 'consult' });
    consultCall.hangup();
    expect(env.ws.last('call.hangup')).toEqual({ type: 'call.hangup', call_id: 'consult' });
  });

  it('a refused consult rejects with the error for its req_id; the original is untouched', async () => {
    const env = await ready();
    const original = await active(env);
    const events = record(original);
    const p = original.attendedTransfer('105');
    await flush();
    const req = env.ws.last('call.transfer.attended');
    const consultPc = env.pc;
    env.ws.receive({
      type: 'error',
      code: 'invalid_message',
      message: 'call.transfer.attended: an attended transfer is already in progress on this call',
      req_id: req.req_id as string,
      call_id: 'orig',
    });
    await expect(p).rejects.toMatchObject({ code: 'invalid_message' });
    expect(consultPc.closed).toBe(true);
    expect(events).toEqual([]);
    expect(env.phone.activeCalls).toEqual([original]);
  });

  it('an unroutable consult: trying, then ended failed, then the original resumes', async () => {
    const env = await ready();
    const original = await active(env);
    const consultCall = await consult(env, original, 'k', 'nowhere');
    const origEvents = record(original);
    env.ws.receive({ type: 'call.ended', call_id: 'k', reason: 'failed', duration_seconds: null });
    env.ws.receive({ type: 'call.resumed', call_id: 'orig' });
    expect(consultCall.endReason).toBe('failed');
    expect(origEvents).toEqual(['resumed']);
  });

  it("creates the ringback's AudioContext inside the app's gesture, as phone.call() does", async () => {
    let made = 0;
    class AC extends FakeAudioContext {
      constructor() {
        super();
        made++;
      }
    }
    const env = await ready({ AudioContext: AC as never });
    const original = await ring(env, 'in', '102'); // inbound: no context yet
    await original.answer();
    env.ws.receive({ type: 'call.answered', call_id: 'in', answered_at: new Date().toISOString() });
    expect(made).toBe(0);
    const p = original.attendedTransfer('105');
    expect(made).toBe(1); // synchronously, in the caller's task
    await flush();
    env.ws.receive({ type: 'call.trying', call_id: 'k', req_id: env.ws.last('call.transfer.attended').req_id as string });
    const consultCall = await p;
    FakeAudioContext.started = 0;
    env.ws.receive({ type: 'call.ringing', call_id: 'k' });
    expect(FakeAudioContext.started).toBeGreaterThan(0); // ringback plays on the consult call
    consultCall.hangup();
  });
});
