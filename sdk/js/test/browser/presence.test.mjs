// Presence (BLF) in Chromium: carol's phone watches alice and bob with
// subscribePresence; alice calls bob. carol sees both on_call soon after
// bob answers, and available again soon after the hangup. Times are the
// pages' wall clocks (one machine), so the gap is the server's fan-out plus
// the sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPhone, hangupAll, openBrowser, reset, sb, takeIncoming } from './helpers.mjs';

let alice;
let bob;
let carol;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([openBrowser('alice'), openBrowser('bob'), openBrowser('carol')]);
  for (const b of [alice, bob, carol]) {
    await reset(b);
    await connectPhone(b);
  }
});
afterAll(async () => {
  await hangupAll(alice, bob, carol).catch(() => {});
  await Promise.all([alice, bob, carol].map((b) => b?.close()));
});

/** In carol's page: every presence frame, stamped with Date.now(). */
const watched = () => carol.page.evaluate(() => window.__t.presence);

/** When carol first saw user in status (after the index `from`), or undefined. */
async function seen(user, status, after) {
  const frames = await watched();
  for (const f of frames) {
    if (f.at < after) continue;
    const entries = f.msg.type === 'presence.list' ? f.msg.users : [f.msg];
    if (entries.some((e) => e.user_id === user && e.status === status)) return f.at;
  }
  return undefined;
}

describe('Presence', () => {
  // The Go e2e test bounds the delay (test/e2e/presence_test.go); here
  // three Chromiums share two cores, so only the order is checked and the
  // figures are logged.
  it('a watcher sees on_call from the ring, and available after the hangup', async () => {
    const ids = [sb.users.alice.id, sb.users.bob.id];
    await carol.page.evaluate((users) => {
      const T = window.__t;
      T.presence = [];
      T.phone.on('presence', (msg) => T.presence.push({ at: Date.now(), msg }));
      T.phone.subscribePresence(users);
    }, ids);
    await expect.poll(async () => (await watched()).find((f) => f.msg.type === 'presence.list')?.msg.users
      .map((u) => `${u.name}:${u.status}`).sort()).toEqual(['Alice:available', 'Bob:available']);

    const calledAt = await alice.page.evaluate(async () => {
      window.__t.call = await window.__t.phone.call('102');
      return Date.now();
    });
    await takeIncoming(bob);
    // Both are on_call from the ring: before bob answers. (Order, not
    // speed, is checked: a test must not time a busy machine.)
    let onCall;
    await expect.poll(async () => {
      onCall = [await seen(sb.users.alice.id, 'on_call', 0), await seen(sb.users.bob.id, 'on_call', 0)];
      return onCall.every((t) => t !== undefined);
    }, { interval: 20 }).toBe(true);
    await bob.page.evaluate(() => window.__t.call.answer());

    const hungUpAt = await alice.page.evaluate(() => {
      window.__t.call.hangup();
      return Date.now();
    });
    let available;
    await expect.poll(async () => {
      available = [await seen(sb.users.alice.id, 'available', hungUpAt), await seen(sb.users.bob.id, 'available', hungUpAt)];
      return available.every((t) => t !== undefined);
    }, { interval: 20 }).toBe(true);
    const gaps = available.map((t) => t - hungUpAt);
    console.log(`presence: on_call ${onCall.map((t) => t - calledAt)} ms after the call, available ${gaps} ms after the hangup`);
  });

  it('a user of another account, or none, is presence_unavailable', async () => {
    const errors = await carol.page.evaluate(async () => {
      const T = window.__t;
      T.phoneErrors.length = 0;
      T.phone.subscribePresence(['user_doesnotexist']);
      for (let i = 0; i < 50 && !T.phoneErrors.length; i++) await new Promise((r) => setTimeout(r, 50));
      return T.phoneErrors;
    });
    expect(errors.join('\n')).toMatch(/presence_unavailable/);
  });
});
