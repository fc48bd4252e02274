// Calling guide, "Making Calls", "Inbound Call Flow", "Call Ended Reasons"
// and ring-all: every snippet runs unchanged in real Chromium against a real
// server; the outcome the guide documents is checked, audio included.
import { describe, expect, it } from 'vitest';
import { alternative, SNIPPETS } from './guide-snippets.mjs';
import {
  callState, connectPhone, events, expectTone, recordEvents, runSnippet, takeIncoming, usePhones,
} from './helpers.mjs';

let alice;
let bob;
let dave;
const all = usePhones(['alice', 'bob', 'dave'], (b) => { [alice, bob, dave] = b; });

/** Runs an outbound snippet on alice (its `call` becomes window.__t.call) and has dave answer. */
async function dialDave(snippet) {
  await runSnippet(alice, snippet, { after: 'T.call = call; T.record("call");' });
  await takeIncoming(dave);
  await expect.poll(() => events(alice)).toContain('call:ringing');
  expect(await callState(alice)).toBe('ringing');
  await dave.page.evaluate(() => window.__t.call.answer());
  await expect.poll(() => events(alice)).toEqual(['call:ringing', 'call:answered']);
  await expectTone(dave, 'alice');
  await expectTone(alice, 'dave');
  return alice.page.evaluate(() => {
    const c = window.__t.call;
    return { id: c.id, direction: c.direction, to: c.to, state: c.state, answeredAt: Boolean(c.answeredAt) };
  });
}

describe('Making Calls', () => {
  it('dials a phone number (E.164): ringing, then answered with audio both ways', async () => {
    const call = await dialDave(SNIPPETS.outboundE164);
    expect(call).toMatchObject({ direction: 'outbound', to: '+14155551234', state: 'active', answeredAt: true });
    expect(call.id).toBeTruthy();
  });

  it('dials an extension', async () => {
    const call = await dialDave(SNIPPETS.outboundExtension);
    expect(call).toMatchObject({ direction: 'outbound', to: '105', state: 'active' });
  });

  it('dials with a caller ID the account owns', async () => {
    const call = await dialDave(SNIPPETS.outboundCallerId);
    expect(call).toMatchObject({ to: '+14155551234', state: 'active' });
    // Internal calls show the caller's extension; the caller ID is for trunks.
    const from = await dave.page.evaluate(() => window.__t.call.from);
    expect(['+14155559876', '101']).toContain(from);
  });

  it('the call ends for both parties on hangup, with duration', async () => {
    await dialDave(SNIPPETS.outboundExtension);
    await expect.poll(() => alice.page.evaluate(() => window.__t.call.duration)).toBeGreaterThanOrEqual(1);
    await dave.page.evaluate(() => {
      window.__t.record('call');
    });
    await alice.page.evaluate(() => window.__t.call.hangup());
    await expect.poll(() => events(dave)).toContain('call:ended:hangup');
    await expect.poll(() => events(alice)).toContain('call:ended:hangup');
    const a = await alice.page.evaluate(() => {
      const c = window.__t.call;
      return { state: c.state, endReason: c.endReason, active: window.__t.phone.activeCalls.length, duration: c.duration };
    });
    expect(a).toMatchObject({ state: 'ended', endReason: 'hangup', active: 0 });
    expect(a.duration).toBeGreaterThanOrEqual(1);
    // hangup() is idempotent once ended.
    await alice.page.evaluate(() => window.__t.call.hangup());
  });
});

describe('Inbound Call Flow', () => {
  const choices = ['call.answer();', 'call.reject(); // silent decline', "call.reject('busy');"];

  it('answer: the caller gets answered, the callee sees id/from/fromName/to', async () => {
    await runSnippet(bob, alternative(SNIPPETS.inbound, choices[0], choices));
    await runSnippet(alice, "const call = await phone.call('102');", {
      after: 'T.call = call; T.record("call");',
    });
    await expect.poll(() => events(alice)).toContain('call:answered');
    await takeIncoming(bob);
    const seen = await bob.page.evaluate(() => {
      const c = window.__t.call;
      return { id: c.id, from: c.from, fromName: c.fromName, to: c.to, direction: c.direction, state: c.state };
    });
    expect(seen).toMatchObject({ from: '101', fromName: 'Alice', to: '102', direction: 'inbound', state: 'active' });
    expect(seen.id).toBe(await alice.page.evaluate(() => window.__t.call.id));
    await expectTone(bob, 'alice');
    await expectTone(alice, 'bob');
  });

  for (const [choice, reason] of [[choices[1], 'rejected'], [choices[2], 'busy']]) {
    it(`${choice.split(';')[0]}: the caller's call ends with ${reason}`, async () => {
      await runSnippet(bob, alternative(SNIPPETS.inbound, choice, choices));
      await runSnippet(alice, "const call = await phone.call('102');", { after: 'T.call = call; T.record("call");' });
      await expect.poll(() => events(alice)).toContain(`call:ended:${reason}`);
      expect(await events(alice)).not.toContain('call:answered');
      await takeIncoming(bob);
      expect(await callState(bob)).toBe('ended');
    });
  }

  it('rings every device of the user; the first to answer wins', async () => {
    // A second tab for bob: both ring, the first answers, the other stops ringing.
    const tab = await bob.ctx.newPage();
    const bob2 = { ...bob, page: tab, errors: [] };
    tab.on('pageerror', (e) => bob2.errors.push(e.message));
    try {
      await tab.goto(bob.page.url());
      await connectPhone(bob2);
      await runSnippet(alice, "const call = await phone.call('102');", { after: 'T.call = call; T.record("call");' });
      await takeIncoming(bob);
      await takeIncoming(bob2);
      await recordEvents(bob2);
      await bob.page.evaluate(() => window.__t.call.answer());
      await expect.poll(() => events(alice)).toContain('call:answered');
      await expect.poll(() => events(bob2)).toEqual(['call:ended:answered-elsewhere']);
      await expectTone(alice, 'bob');
      expect(bob2.errors).toEqual([]);
    } finally {
      await tab.evaluate(() => window.__t?.phone?.disconnect()).catch(() => {});
      await tab.close();
    }
  });
});

describe('Call Ended Reasons', () => {
  // Dials dest and runs the guide's ended handler on the call in the same
  // task (a failed call ends right after call.trying), spying on what the
  // handler is given.
  async function endedWith(dest, reason, calleeAction) {
    const dial = `const call = await phone.call(${JSON.stringify(dest)});
T.call = call; T.record('call'); T.reasons = [];
const on = call.on.bind(call);
call.on = (ev, fn) => on(ev, (...args) => { if (ev === 'ended') T.reasons.push(args[0]); return fn(...args); });`;
    await runSnippet(alice, `${dial}\n${SNIPPETS.endedReasons}`);
    if (calleeAction) await calleeAction();
    await expect.poll(() => alice.page.evaluate(() => window.__t.reasons)).toEqual([reason]);
    expect(await events(alice)).toContain(`call:ended:${reason}`);
  }

  it('hangup', async () => {
    await endedWith('102', 'hangup', async () => {
      await takeIncoming(bob);
      await bob.page.evaluate(() => window.__t.call.answer());
      await expect.poll(() => events(alice)).toContain('call:answered');
      await bob.page.evaluate(() => window.__t.call.hangup());
    });
  });

  it('busy', async () => {
    await endedWith('102', 'busy', async () => {
      await takeIncoming(bob);
      await bob.page.evaluate(() => window.__t.call.reject('busy'));
    });
  });

  it('rejected', async () => {
    await endedWith('102', 'rejected', async () => {
      await takeIncoming(bob);
      await bob.page.evaluate(() => window.__t.call.reject());
    });
  });

  it('no-answer (the user has no device online)', async () => {
    await endedWith('106', 'no-answer');
  });

  it('failed (no such extension)', async () => {
    await endedWith('999', 'failed');
  });

  it('hangup while ringing ends the callee side too', async () => {
    await runSnippet(alice, "const call = await phone.call('102');", { after: 'T.call = call; T.record("call");' });
    await takeIncoming(bob);
    await recordEvents(bob);
    await alice.page.evaluate(() => window.__t.call.hangup());
    await expect.poll(() => events(bob)).toHaveLength(1);
    expect((await events(bob))[0]).toMatch(/^call:ended:/);
  });
});
