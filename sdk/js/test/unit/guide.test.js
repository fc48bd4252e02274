// The snippets of the calling guide (shared/seed/calling-and-call-control.txt),
// verbatim, run against a connected Phone wired to fakes. Plain JavaScript,
// as the guide is.
import { describe, expect, it, vi } from 'vitest';
import { connect, dial, flush, ring, setup } from './fakes.js';

async function connected() {
  const env = setup();
  await connect(env);
  return env;
}

/** Answers the next call.create/consult of env with call.trying. */
function autoTrying(env, callId) {
  const seen = env.ws.sent.length;
  const timer = setInterval(() => {
    const req = env.ws.sent.slice(seen).find((f) => f.type === 'call.create' || f.type === 'call.transfer.attended');
    if (req) {
      clearInterval(timer);
      env.ws.receive({ type: 'call.trying', call_id: callId, req_id: req.req_id });
    }
  }, 1);
}

describe('guide: making calls', () => {
  it('dials a number, an extension, and with a caller ID', async () => {
    const env = await connected();
    const phone = env.phone;
    {
      autoTrying(env, 'c1');
      // Dial a phone number (E.164 format)
      const call = await phone.call('+14155551234');
      expect(call.id).toBe('c1');
    }
    {
      autoTrying(env, 'c2');
      // Or dial an extension
      const call = await phone.call('105');
      expect(call.to).toBe('105');
    }
    {
      autoTrying(env, 'c3');
      // Optional: specify caller ID
      const call = await phone.call('+14155551234', {
        callerId: '+14155559876',
      });
      expect(env.ws.last('call.create').caller_id).toBe('+14155559876');
      expect(call.id).toBe('c3');
    }
  });
});

describe('guide: inbound call flow', () => {
  it('answers', async () => {
    const env = await connected();
    const phone = env.phone;
    const seen = {};
    phone.on('incoming', (call) => {
      // call.id — call identifier
      // call.from — caller's number (E.164)
      // call.fromName — caller's display name (if available)
      // call.to — called number or extension
      Object.assign(seen, { id: call.id, from: call.from, fromName: call.fromName, to: call.to });
      // Answer
      call.answer();
    });
    await ring(env, 'call_in', '+14155550100');
    await flush();
    expect(seen).toEqual({ id: 'call_in', from: '+14155550100', fromName: 'Bob', to: '101' });
    expect(env.ws.types().slice(-2)).toEqual(['call.answer', 'sdp.answer']);
  });

  it('rejects silently or busy', async () => {
    const env = await connected();
    const phone = env.phone;
    let n = 0;
    phone.on('incoming', (call) => {
      if (n++ === 0) {
        call.reject(); // silent decline
      } else {
        call.reject('busy'); // send busy signal
      }
    });
    await ring(env, 'a');
    await ring(env, 'b');
    expect(env.ws.ofType('call.reject')).toEqual([
      { type: 'call.reject', call_id: 'a' },
      { type: 'call.reject', call_id: 'b', reason: 'busy' },
    ]);
  });
});

describe('guide: ended reasons', () => {
  it('switches on the reason', async () => {
    const env = await connected();
    const call = await dial(env);
    const got = [];
    call.on('ended', (reason) => {
      switch (reason) {
        case 'hangup':
          // Normal hangup by either party
          break;
        case 'busy':
          // Destination is busy
          got.push('busy');
          break;
        case 'no-answer':
          // No one answered
          break;
        case 'failed':
          // Call setup failed (invalid number, network error)
          break;
        case 'transferred':
          // Call was transferred
          break;
        case 'rejected':
          // Remote party rejected the call
          break;
      }
    });
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'busy', duration_seconds: null });
    expect(got).toEqual(['busy']);
  });
});

async function activeCall(env, id = 'call_x') {
  const call = await dial(env, '105', id);
  env.ws.receive({ type: 'sdp.answer', call_id: id, sdp: 'a' });
  env.ws.receive({ type: 'call.answered', call_id: id, answered_at: new Date().toISOString() });
  await flush();
  return call;
}

describe('guide: call control', () => {
  it('hold and resume', async () => {
    const env = await connected();
    const call = await activeCall(env);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    // Place the call on hold (remote party hears hold music)
    call.hold();
    // Resume the call
    call.resume();
    // Listen for hold events (local or remote hold)
    call.on('held', (heldBy) => {
      if (heldBy === 'remote') {
        console.log('The other party put you on hold');
      }
    });
    call.on('resumed', () => {
      console.log('Call resumed');
    });
    expect(env.ws.types().slice(-2)).toEqual(['call.hold', 'call.resume']);
    env.ws.receive({ type: 'call.held', call_id: call.id, held_by: 'remote' });
    env.ws.receive({ type: 'call.resumed', call_id: call.id });
    expect(log.mock.calls).toEqual([['The other party put you on hold'], ['Call resumed']]);
    log.mockRestore();
  });

  it('mute', async () => {
    const env = await connected();
    const call = await activeCall(env);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    // Client-side mute (stops sending audio from the microphone)
    call.mute();
    call.unmute();
    // Check mute state
    console.log(call.isMuted); // true or false
    expect(log).toHaveBeenCalledWith(false);
    expect(env.ws.types().slice(-2)).toEqual(['call.mute', 'call.unmute']);
    log.mockRestore();
  });

  it('DTMF through the raw RTCDTMFSender', async () => {
    const env = await connected();
    const call = await activeCall(env);
    const sender = call.peerConnection.getSenders().find((s) => s.track && s.track.kind === 'audio');
    sender.dtmf.insertDTMF('1234#');
    expect(env.pc.senders[0].dtmf.inserted).toEqual([['1234#', undefined, undefined]]);
  });

  it('blind transfer', async () => {
    const env = await connected();
    const call = await activeCall(env);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    // Transfer to an extension
    call.transfer('105');
    // Transfer to a phone number
    call.transfer('+14155551234');
    // The call ends for you after the transfer
    call.on('ended', (reason) => {
      console.log(reason); // 'transferred'
    });
    env.ws.receive({ type: 'call.ended', call_id: call.id, reason: 'transferred', duration_seconds: 3 });
    expect(log).toHaveBeenCalledWith('transferred');
    expect(env.ws.ofType('call.transfer').map((f) => f.destination)).toEqual(['105', '+14155551234']);
    log.mockRestore();
  });

  it('attended transfer', async () => {
    const env = await connected();
    const call = await activeCall(env, 'orig');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    autoTrying(env, 'consult');
    // Step 1: Consult — your current call is held, a new call is placed
    const consultCall = await call.attendedTransfer('105');
    consultCall.on('answered', () => {
      console.log('Consulting with transfer target...');
      // Step 2: Complete — connect the original caller to the target
      call.completeTransfer();
      // Or cancel — hang up the consultation call, original call resumes
      // consultCall.hangup();
    });
    env.ws.receive({ type: 'call.answered', call_id: 'consult', answered_at: new Date().toISOString() });
    expect(log).toHaveBeenCalledWith('Consulting with transfer target...');
    expect(env.ws.last('call.transfer.attended')).toMatchObject({ call_id: 'orig', step: 'complete' });
    log.mockRestore();
  });
});

describe('guide: multi-call handling', () => {
  it('call waiting', async () => {
    const env = await connected();
    const phone = env.phone;
    const shown = [];
    const showCallWaitingUI = (call) => shown.push(['waiting', call.id]);
    const showIncomingCallUI = (call) => shown.push(['incoming', call.id]);
    phone.on('incoming', (call) => {
      if (phone.activeCalls.length > 0) {
        // Already on a call — this is call waiting
        showCallWaitingUI(call);
      } else {
        showIncomingCallUI(call);
      }
    });
    await ring(env, 'first');
    await ring(env, 'second');
    expect(shown).toEqual([
      ['incoming', 'first'],
      ['waiting', 'second'],
    ]);
  });

  it('swapping calls', async () => {
    const env = await connected();
    const currentCall = await activeCall(env, 'current');
    const waitingCall = await ring(env, 'waiting');
    // Hold current call and answer the waiting call
    currentCall.hold();
    await waitingCall.answer();
    env.ws.receive({ type: 'call.held', call_id: 'current', held_by: 'local' });
    env.ws.receive({ type: 'call.answered', call_id: 'waiting', answered_at: new Date().toISOString() });
    // Later, swap back
    waitingCall.hold();
    currentCall.resume();
    expect(env.ws.types().filter((t) => t.startsWith('call.'))).toEqual([
      'call.create',
      'call.hold',
      'call.answer',
      'call.hold',
      'call.resume',
    ]);
    expect(env.ws.ofType('call.hold').map((f) => f.call_id)).toEqual(['current', 'waiting']);
  });

  it('active calls', async () => {
    const env = await connected();
    const phone = env.phone;
    await activeCall(env, 'x');
    await ring(env, 'y');
    const callId = 'y';
    // List all active calls
    const calls = phone.activeCalls;
    // [{ id, from, to, state: 'active' | 'held' | 'ringing', direction }]
    expect(calls.map(({ id, state, direction }) => ({ id, state, direction }))).toEqual([
      { id: 'x', state: 'active', direction: 'outbound' },
      { id: 'y', state: 'ringing', direction: 'inbound' },
    ]);
    expect(calls[1].from).toBe('+14155550100');
    expect(calls[1].to).toBe('101');
    // Find a specific call
    const call = phone.getCall(callId);
    expect(call).toBe(calls[1]);
  });
});
