// The web softphone served at / (internal/web), clicked through in Chromium:
// sign in with a token, dial, answer, hold, mute, keypad, hang up, decline,
// call waiting and swap, blind and attended transfers, call park, merge, history. Screenshots
// go to test-artifacts/web/.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  dominant, expectSilence, expectTone, hangupAll, openBrowser, sb, screenshot, serverIdle,
} from './helpers.mjs';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let alice;
let bob;
let carol;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([
    openBrowser('alice', { viewport: DESKTOP }),
    openBrowser('bob', { viewport: PHONE }),
    openBrowser('carol', { viewport: PHONE }),
  ]);
});
afterAll(async () => {
  await Promise.all([alice, bob, carol].map((b) => b?.close()));
});
afterEach(async () => {
  await serverIdle();
  for (const b of [alice, bob, carol]) {
    expect(b.errors, `uncaught errors in ${b.user}'s page`).toEqual([]);
    expect(b.logs.filter((l) => /Content Security Policy/i.test(l)), 'CSP violations').toEqual([]);
  }
});

const tid = (b, id) => b.page.getByTestId(id);
const attr = (locator, name) => locator.getAttribute(name);
const text = (locator) => locator.innerText();
/** The n-th call in b's list. */
const callItem = (b, n = 0) => tid(b, 'calls').getByTestId('call').nth(n);
const callIn = (b, n, id) => callItem(b, n).getByTestId(id);

async function fresh(b) {
  await b.page.evaluate(() => sessionStorage.clear()).catch(() => {});
  await b.page.goto(`${sb.url}/`);
  b.errors.length = 0;
  b.logs.length = 0;
}

async function signIn(b) {
  await fresh(b);
  await tid(b, 'token-input').fill(b.token);
  await tid(b, 'signin-button').click();
  await expect.poll(() => attr(tid(b, 'conn-state'), 'data-state')).toBe('connected');
  await expect.poll(() => tid(b, 'phone').isVisible()).toBe(true);
}

/** Points the audio helpers (window.__t.call) at the page's n-th RTCPeerConnection. */
async function useCall(b, n = -1) {
  await b.page.evaluate((i) => {
    window.__t = { call: { peerConnection: window.__sb.pcs.at(i) } };
  }, n);
}

async function shoot(name) {
  for (const b of [alice, bob]) await screenshot(b.page, `${name}-${b.user}-${b === alice ? 'desktop' : 'phone'}`);
}

describe('web softphone', () => {
  it('serves the page with the SDK and refuses a bad token with a message', async () => {
    await fresh(alice);
    expect(await alice.page.title()).toBe('Switchboard Phone');
    const res = await fetch(`${sb.url}/sdk/phone.js`);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    await tid(alice, 'token-input').fill('not-a-token');
    await tid(alice, 'token-input').press('Enter');
    await expect.poll(() => tid(alice, 'signin-error').isVisible()).toBe(true);
    expect(await text(tid(alice, 'signin-error'))).toMatch(/Sign-in failed/);
    expect(await attr(tid(alice, 'conn-state'), 'data-state')).toBe('disconnected');
    await screenshot(alice.page, '00-bad-token-alice-desktop');
  });

  it('offers the demo users when the server runs in demo mode', async (ctx) => {
    const res = await fetch(`${sb.url}/v1/demo/users`);
    if (res.status === 404) ctx.skip('GET /v1/demo/users is not served (not wired yet)');
    await fresh(carol);
    await expect.poll(() => tid(carol, 'demo-users').isVisible()).toBe(true);
    await screenshot(carol.page, '00-demo-picker-carol-phone');
    await tid(carol, 'demo-user-103').click();
    await expect.poll(() => attr(tid(carol, 'conn-state'), 'data-state')).toBe('connected');
    expect(await text(tid(carol, 'me'))).toBe('Carol (103)');
    await tid(carol, 'signout').click();
    await expect.poll(() => tid(carol, 'signin').isVisible()).toBe(true);
  });

  it('alice calls bob: answer, audio, hold/resume, mute, keypad, bob hangs up', async () => {
    await Promise.all([signIn(alice), signIn(bob)]);
    await shoot('01-signed-in');

    // Keyboard only: sign-in leaves focus in the destination field; Enter dials.
    expect(await alice.page.evaluate(() => document.activeElement?.dataset.testid)).toBe('dial-input');
    await alice.page.keyboard.type('102');
    await alice.page.keyboard.press('Enter');
    await expect.poll(() => attr(callItem(alice), 'data-state')).toBe('ringing');
    const prompt = tid(bob, 'incoming');
    await expect.poll(() => prompt.isVisible()).toBe(true);
    expect(await text(tid(bob, 'incoming-from'))).toBe('Alice (101)');
    expect(await attr(tid(bob, 'announce'), 'aria-live')).toBe('assertive');
    expect(await tid(bob, 'announce').textContent()).toBe('Incoming call from Alice (101)');
    await shoot('02-ringing');

    await tid(bob, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(alice), 'data-state')).toBe('active');
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
    expect(await prompt.count()).toBe(0);
    expect(await text(callIn(bob, 0, 'call-peer'))).toBe('Alice (101)');
    expect(await text(callIn(alice, 0, 'call-peer'))).toBe('102');
    await useCall(alice);
    await useCall(bob);
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    await expect.poll(() => text(callIn(alice, 0, 'call-duration'))).toMatch(/^00:(0[1-9]|[1-5]\d)$/); // running, under a minute
    await shoot('03-connected');

    await callIn(alice, 0, 'call-hold').click();
    await expect.poll(() => attr(callItem(bob), 'data-held-by')).toBe('remote');
    expect(await attr(callItem(bob), 'data-state')).toBe('held');
    expect(await text(callIn(bob, 0, 'call-state'))).toBe('On hold by the other party');
    await expect.poll(() => text(callIn(alice, 0, 'call-hold'))).toBe('Resume');
    expect(await attr(callItem(alice), 'data-held-by')).toBe('local');
    await expectSilence(bob, 'call', false); // music on hold
    await shoot('04-held');
    await callIn(alice, 0, 'call-hold').click();
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
    await expect.poll(() => text(callIn(alice, 0, 'call-hold'))).toBe('Hold');
    await expectTone(bob, 'alice');

    await callIn(alice, 0, 'call-mute').click();
    await expect.poll(() => attr(callItem(alice), 'data-muted')).toBe('true');
    expect(await text(callIn(alice, 0, 'call-mute'))).toBe('Unmute');
    await expectSilence(bob);
    await callIn(alice, 0, 'call-mute').click();
    await expect.poll(() => attr(callItem(alice), 'data-muted')).toBe('false');
    await expectTone(bob, 'alice');

    await bob.page.evaluate(() => {
      window.__t.dtmf = window.__sb.dtmfListener(window.__t.call.peerConnection);
      return window.__t.dtmf.ready;
    });
    await callIn(alice, 0, 'call-keypad').click();
    expect(await attr(callIn(alice, 0, 'call-keypad'), 'aria-expanded')).toBe('true');
    await callIn(alice, 0, 'dtmf-5').click();
    await expect.poll(() => bob.page.evaluate(() => window.__t.dtmf.heard.join('')), { timeout: 10_000 }).toBe('5');
    await bob.page.evaluate(() => window.__t.dtmf.stop());
    await shoot('05-keypad');

    await callIn(bob, 0, 'call-hangup').click();
    await expect.poll(() => attr(callItem(alice), 'data-state')).toBe('ended');
    expect(await text(callIn(alice, 0, 'call-state'))).toBe('Ended (hangup)');
    await shoot('06-ended');
    await expect.poll(() => tid(alice, 'calls').getByTestId('call').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => tid(alice, 'history').getByTestId('history-item').count()).toBeGreaterThan(0);
    const first = tid(alice, 'history').getByTestId('history-item').first();
    expect(await attr(first, 'data-outcome')).toBe('answered');
    expect(await text(first)).toContain('102');
    await expect.poll(() => text(tid(bob, 'history').getByTestId('history-item').first())).toContain('Alice');
    // The call lasted well over a 5-s window: each leg was rated, and a
    // clean loopback call is good; the details list both legs.
    const mos = first.getByTestId('history-mos');
    expect(await attr(mos, 'data-level')).toBe('good');
    expect(await text(mos)).toMatch(/^MOS 4\.\d$/);
    await first.getByTestId('history-detail').locator('summary').click();
    expect(await first.getByTestId('history-leg').count()).toBe(2);
    expect(await text(first.getByTestId('history-detail'))).toMatch(/caller\s*webrtc\s*opus\s*4\.\d\d/);
    await shoot('07-history');
  });

  it('bob declines, then answers busy: alice sees rejected, then busy', async () => {
    await Promise.all([signIn(alice), signIn(bob)]);
    for (const [button, reason] of [['incoming-decline', 'rejected'], ['incoming-busy', 'busy']]) {
      await tid(alice, 'dial-input').fill('102');
      await tid(alice, 'dial-call').click();
      await expect.poll(() => tid(bob, 'incoming').isVisible()).toBe(true);
      await tid(bob, button).click();
      await expect.poll(() => text(callIn(alice, 0, 'call-state'))).toBe(`Ended (${reason})`);
      await expect.poll(() => tid(bob, 'incoming').count()).toBe(0);
      await expect.poll(() => tid(alice, 'calls').getByTestId('call').count(), { timeout: 10_000 }).toBe(0);
    }
  });

  it('call waiting: hold & answer, then swap between the two calls', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await tid(bob, 'dial-input').fill('101');
    await tid(bob, 'dial-call').click();
    await tid(alice, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');

    await tid(carol, 'dial-input').fill('101');
    await tid(carol, 'dial-call').click();
    await expect.poll(() => text(tid(alice, 'incoming-answer'))).toBe('Hold & answer');
    expect(await tid(alice, 'swap').isVisible()).toBe(false);
    await screenshot(alice.page, '08-call-waiting-alice-desktop');
    await tid(alice, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(carol), 'data-state')).toBe('active');
    await expect.poll(() => attr(callItem(bob), 'data-held-by')).toBe('remote');
    await expect.poll(() => tid(alice, 'swap').isVisible()).toBe(true);
    await useCall(alice); // carol's call is alice's newest peer connection
    await useCall(carol);
    await expectTone(alice, 'carol');
    await expectTone(carol, 'alice');
    await screenshot(alice.page, '09-two-calls-alice-desktop');

    await tid(alice, 'swap').click();
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
    await expect.poll(() => attr(callItem(carol), 'data-held-by')).toBe('remote');
    await useCall(alice, -2);
    await useCall(bob);
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    await screenshot(alice.page, '10-swapped-alice-desktop');
    await screenshot(carol.page, '10-swapped-carol-phone');

    await callIn(bob, 0, 'call-hangup').click();
    await callIn(carol, 0, 'call-hangup').click();
    await expect.poll(() => tid(alice, 'swap').isVisible()).toBe(false);
  });

  /** alice calls bob from the dial pad and bob answers; both rows read active. */
  async function aliceCallsBob() {
    await tid(alice, 'dial-input').fill('102');
    await tid(alice, 'dial-call').click();
    await tid(bob, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(alice), 'data-state')).toBe('active');
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
  }

  it('blind transfer from the call controls', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await aliceCallsBob();
    await callIn(alice, 0, 'call-transfer').click();
    expect(await attr(callIn(alice, 0, 'call-transfer'), 'aria-expanded')).toBe('true');
    await callIn(alice, 0, 'transfer-input').fill('103');
    await screenshot(alice.page, '11-transfer-form-alice-desktop');
    await callIn(alice, 0, 'transfer-submit').click();
    await expect.poll(() => text(callIn(alice, 0, 'call-state'))).toBe('Ended (transferred)');
    // carol is called by bob, the transferred party; bob's call goes on as it was.
    await expect.poll(() => tid(carol, 'incoming').isVisible()).toBe(true);
    expect(await text(tid(carol, 'incoming-from'))).toBe('Bob (102)');
    expect(await attr(callItem(bob), 'data-state')).toBe('active');
    await tid(carol, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(carol), 'data-state')).toBe('active');
    expect(await attr(callItem(bob), 'data-state')).toBe('active');
    expect(await tid(bob, 'calls').getByTestId('call').count()).toBe(1);
    await useCall(bob);
    await useCall(carol);
    await expectTone(bob, 'carol');
    await expectTone(carol, 'bob');
    await expect.poll(() => tid(alice, 'calls').getByTestId('call').count(), { timeout: 10_000 }).toBe(0);
    await callIn(carol, 0, 'call-hangup').click();
    await expect.poll(() => text(callIn(bob, 0, 'call-state'))).toBe('Ended (hangup)');
  });

  it('park from the call controls, pick up by dialling the slot', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await aliceCallsBob();
    await callIn(alice, 0, 'call-park').click();
    await expect.poll(() => text(tid(alice, 'status'))).toBe('Parked in 701: dial 701 to pick it up');
    await expect.poll(() => text(callIn(alice, 0, 'call-state'))).toBe('Ended (transferred)');
    expect(await attr(callItem(bob), 'data-state')).toBe('active'); // bob hears music, his call goes on
    await tid(carol, 'dial-input').fill('701');
    await tid(carol, 'dial-call').click();
    await expect.poll(() => attr(callItem(carol), 'data-state')).toBe('active');
    await useCall(bob);
    await useCall(carol);
    await expectTone(bob, 'carol');
    await expectTone(carol, 'bob');
    await callIn(carol, 0, 'call-hangup').click();
    await expect.poll(() => text(callIn(bob, 0, 'call-state'))).toBe('Ended (hangup)');
  });

  it('attended transfer from the call controls: consult, complete', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await aliceCallsBob();
    await callIn(alice, 0, 'call-attended').click();
    await callIn(alice, 0, 'attended-input').fill('103');
    await callIn(alice, 0, 'attended-submit').click();
    // The original is held by the server; the consult call is listed below it.
    await expect.poll(() => attr(callItem(alice, 0), 'data-held-by')).toBe('local');
    await expect.poll(() => attr(callItem(bob), 'data-held-by')).toBe('remote');
    await expect.poll(() => tid(alice, 'calls').getByTestId('call').count()).toBe(2);
    expect(await text(callIn(alice, 1, 'call-peer'))).toBe('103');
    await expect.poll(() => text(callIn(alice, 0, 'consult'))).toMatch(/^Consulting 103: ringing…/);
    expect(await callIn(alice, 0, 'call-complete').isDisabled()).toBe(true);
    for (const n of [0, 1]) {
      expect(await callIn(alice, n, 'call-transfer').isVisible(), `transfer button on call ${n}`).toBe(false);
      expect(await callIn(alice, n, 'call-attended').isVisible(), `attended button on call ${n}`).toBe(false);
    }

    await expect.poll(() => tid(carol, 'incoming').isVisible()).toBe(true);
    expect(await text(tid(carol, 'incoming-from'))).toBe('Alice (101)');
    await tid(carol, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(alice, 1), 'data-state')).toBe('active');
    await expect.poll(() => text(callIn(alice, 0, 'consult'))).toMatch(/^Consulting 103: connected/);
    await useCall(alice);
    await useCall(carol);
    await expectTone(alice, 'carol');
    await expectTone(carol, 'alice');
    await screenshot(alice.page, '12-consulting-alice-desktop');

    await callIn(alice, 0, 'call-complete').click();
    await expect.poll(() => text(callIn(alice, 0, 'call-state'))).toBe('Ended (transferred)');
    await expect.poll(() => text(callIn(alice, 1, 'call-state'))).toBe('Ended (transferred)');
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
    expect(await attr(callItem(carol), 'data-state')).toBe('active');
    await useCall(bob);
    await useCall(carol);
    await expectTone(bob, 'carol');
    await expectTone(carol, 'bob');
    expect(await attr(tid(alice, 'status'), 'data-kind')).not.toBe('error');
    await screenshot(bob.page, '13-transferred-bob-phone');
    await callIn(bob, 0, 'call-hangup').click();
    await expect.poll(() => text(callIn(carol, 0, 'call-state'))).toBe('Ended (hangup)');
  });

  it('attended transfer from the call controls: cancel resumes the original', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await aliceCallsBob();
    await callIn(alice, 0, 'call-attended').click();
    await callIn(alice, 0, 'attended-input').fill('103');
    await callIn(alice, 0, 'attended-submit').click();
    await expect.poll(() => tid(carol, 'incoming').isVisible()).toBe(true);
    await tid(carol, 'incoming-answer').click();
    await expect.poll(() => text(callIn(alice, 0, 'consult'))).toMatch(/connected/);

    await callIn(alice, 0, 'consult-cancel').click();
    await expect.poll(() => text(callIn(alice, 1, 'call-state'))).toBe('Ended (hangup)');
    await expect.poll(() => attr(callItem(alice, 0), 'data-state')).toBe('active');
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active');
    expect(await text(callIn(alice, 0, 'call-hold'))).toBe('Hold');
    expect(await callIn(alice, 0, 'consult').isVisible()).toBe(false);
    expect(await callIn(alice, 0, 'call-transfer').isVisible()).toBe(true);
    expect(await callIn(alice, 0, 'call-attended').isVisible()).toBe(true);
    await expect.poll(() => text(callIn(carol, 0, 'call-state'))).toBe('Ended (hangup)');
    await useCall(alice, 0);
    await useCall(bob);
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    expect(await attr(tid(alice, 'status'), 'data-kind')).not.toBe('error');
    await callIn(alice, 0, 'call-hangup').click();
    await expect.poll(() => text(callIn(bob, 0, 'call-state'))).toBe('Ended (hangup)');
  });
  /** Polls until b hears one of the others' tones on its current call (a conference: never its own). */
  async function expectOneOf(b, others) {
    const tones = others.map((u) => sb.users[u].tone);
    await expect.poll(() => dominant(b), { timeout: 15_000, interval: 100, message: `${b.user} hears ${others}` })
      .toSatisfy((f) => tones.some((want) => Math.abs(f - want) <= Math.max(12, want * 0.02)));
  }

  it('merge two calls into a conference from the call controls', async () => {
    await Promise.all([signIn(alice), signIn(bob), signIn(carol)]);
    await aliceCallsBob();
    expect(await callIn(alice, 0, 'call-merge').isVisible()).toBe(false);
    await callIn(alice, 0, 'call-hold').click();
    await expect.poll(() => attr(callItem(bob), 'data-held-by')).toBe('remote');
    await tid(alice, 'dial-input').fill('103');
    await tid(alice, 'dial-call').click();
    await tid(carol, 'incoming-answer').click();
    await expect.poll(() => attr(callItem(alice, 1), 'data-state')).toBe('active');
    await expect.poll(() => callIn(alice, 1, 'call-merge').isVisible()).toBe(true);

    await callIn(alice, 1, 'call-merge').click();
    await expect.poll(() => text(callIn(alice, 0, 'call-state'))).toBe('Ended (merged)');
    await expect.poll(() => text(callIn(alice, 1, 'call-conference'))).toMatch(/Bob|102/);
    await expect.poll(() => attr(callItem(bob), 'data-state')).toBe('active'); // bob's hold ended with the merge
    await screenshot(alice.page, '14-conference-alice-desktop');
    await useCall(alice);
    await useCall(bob);
    await useCall(carol);
    await expectOneOf(alice, ['bob', 'carol']);
    await expectOneOf(bob, ['alice', 'carol']);
    await expectOneOf(carol, ['alice', 'bob']);

    // carol leaves: alice and bob go on in the same call.
    await callIn(carol, 0, 'call-hangup').click();
    await expectTone(alice, 'bob');
    await expectTone(bob, 'alice');
    // (the merged call's row may be gone from the list by now)
    await alice.page.locator('[data-testid="call"][data-state="active"] [data-testid="call-hangup"]').click();
    await expect.poll(() => text(callIn(bob, 0, 'call-state'))).toBe('Ended (hangup)');
  });
});
