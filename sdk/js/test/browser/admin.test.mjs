// The admin console (/admin) in Chromium against the real server: sign in
// with the admin key and with an admin user's token, create a user and find
// them in the softphone's directory, route a number, add a trunk and watch
// it register (to sipp playing a registrar on loopback), edit follow-me and watch
// route test change, watch a live call between two softphone pages and
// hang it up, find it in history (filtered by the server) with its quality,
// list a softphone page among its user's devices, show the version and the
// config's problems on System. Every page is
// screenshotted at desktop and phone (390 px) width into test-artifacts/admin/.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts as webArtifacts, connectPhone, hangupAll, openBrowser, reset, sb, takeIncoming } from './helpers.mjs';
import { peerPort } from './ports.mjs';

const artifacts = path.join(path.dirname(webArtifacts), 'admin');
const PAGES = ['users', 'numbers', 'trunks', 'live', 'history', 'route', 'followme', 'groups', 'dialplan', 'webhooks', 'system'];

let admin; // the console's browser
let alice;
let bob;
let registrar;
const state = {};

/** Sends an admin-key REST request from the test. */
async function rest(method, p, body, token = sb.adminKey) {
  const res = await fetch(sb.url + p, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** sipp playing a trunk's registrar on loopback: grants every REGISTER (testdata/sipp/uas_register_loop.xml). */
async function sippRegistrar() {
  const port = await peerPort('udp');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sipp-registrar-'));
  const log = path.join(dir, 'messages.log');
  const scenario = new URL('../../../../testdata/sipp/uas_register_loop.xml', import.meta.url).pathname;
  const proc = spawn('sipp', ['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-m', '100000', '-nostdin',
    '-trace_msg', '-message_file', log], { stdio: 'ignore' });
  return { port, seen: () => readFile(log, 'utf8').catch(() => ''), close: () => proc.kill() };
}

const page = () => admin.page;
const main = () => page().locator('main');

/** Opens a console page and waits for it to finish loading. */
async function open(id) {
  await page().goto(`${sb.url}/admin#${id}`);
  await page().waitForSelector(`main[data-page="${id.split('?')[0]}"]`);
  await expect.poll(() => main().textContent(), { timeout: 15_000 }).not.toContain('Loading…');
}

async function signIn(cred) {
  await page().goto(`${sb.url}/admin`);
  await page().getByLabel('Admin key or admin user token', { exact: true }).fill(cred);
  await page().getByRole('button', { name: 'Sign in' }).click();
}

async function signOut() {
  await page().getByRole('button', { name: 'Sign out' }).click();
  await page().getByLabel('Admin key or admin user token', { exact: true }).waitFor();
}

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  [admin, alice, bob] = await Promise.all([openBrowser('erin'), openBrowser('alice'), openBrowser('bob')]);
  registrar = await sippRegistrar();
});
afterAll(async () => {
  await hangupAll(alice, bob).catch(() => {});
  // Leave the shared server as the other files expect it: no Frank, no trunk, no number.
  const { body: trunks } = await rest('GET', '/v1/trunks?limit=200');
  for (const t of trunks?.data ?? []) if (t.name === 'lab') await rest('DELETE', `/v1/trunks/${t.id}`);
  const { body: nums } = await rest('GET', '/v1/phone_numbers?limit=200');
  for (const n of nums?.data ?? []) if (n.number === '+14155550199') await rest('DELETE', `/v1/phone_numbers/${n.id}`);
  if (state.frank) await rest('DELETE', `/v1/users/${state.frank.id}`);
  await Promise.all([admin, alice, bob].map((b) => b?.close()));
  registrar?.close();
});

describe('Admin console', () => {
  it('is served with a strict CSP and never puts the key in a URL', async () => {
    const res = await fetch(`${sb.url}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const urls = [];
    page().on('request', (r) => urls.push(r.url()));
    await signIn(sb.adminKey);
    await page().waitForSelector('main[data-page="users"]');
    expect(urls.filter((u) => u.includes(sb.adminKey))).toEqual([]);
    expect(await page().evaluate(() => Object.keys(sessionStorage))).toEqual(['switchboard.admin.credential']);
    expect(await page().evaluate(() => Object.keys(localStorage))).toEqual([]);
    expect(page().url()).not.toContain(sb.adminKey);
  });

  it('refuses a wrong key and a plain user token next to the field', async () => {
    await signOut();
    await signIn('sbk_wrong');
    const err = page().locator('[data-field="credential"] .err');
    await expect.poll(() => err.textContent()).toContain('Not accepted');
    expect(await page().getByLabel('Admin key or admin user token', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await signIn(sb.users.alice.token);
    await expect.poll(() => err.textContent()).toContain('no admin role');
    await signIn(sb.adminKey);
    await page().waitForSelector('main[data-page="users"]');
  });

  it('creates a user who then appears in the softphone directory', async () => {
    await open('users');
    const create = page().getByTestId('user-create');
    await create.getByLabel('Name', { exact: true }).fill('Frank');
    await create.getByLabel('Extension', { exact: true }).fill('1');
    await create.getByRole('button', { name: 'Create user' }).click();
    // The API's validation error sits next to its field.
    await expect.poll(() => create.locator('[data-field="extension"] .err').textContent()).toContain('2 to 8 digits');
    await create.getByLabel('Extension', { exact: true }).fill('107');
    await create.getByLabel('Role', { exact: true }).selectOption('admin');
    await create.getByRole('button', { name: 'Create user' }).click();
    await page().getByTestId('user-editor').waitFor();
    const secret = await page().getByTestId('secret').textContent();
    expect(secret.length).toBeGreaterThanOrEqual(8);
    await expect.poll(() => page().getByTestId('users-table').textContent()).toContain('Frank');

    const { body: list } = await rest('GET', '/v1/users?limit=200');
    const frank = list.data.find((u) => u.extension === '107');
    expect(frank).toMatchObject({ name: 'Frank', role: 'admin' });
    state.frank = frank;
    const { body: sess } = await rest('POST', '/v1/user_sessions', { user: frank.id });
    state.frankToken = sess.client_secret;
    const { body: dir } = await rest('GET', '/v1/me/directory?limit=200', undefined, sb.users.alice.token);
    expect(dir.data.map((u) => u.extension)).toContain('107');

    // A new SIP password is generated in the browser and shown once.
    await page().getByTestId('user-sip').getByRole('button', { name: 'Generate new SIP password' }).click();
    await expect.poll(() => page().locator('[data-testid="user-editor"] [data-testid="secret"]').count()).toBe(1);
  });

  it('signs in with an admin user\'s token, limited to that account', async () => {
    await signOut();
    await signIn(state.frankToken);
    await page().waitForSelector('main[data-page="users"]');
    await expect.poll(() => page().locator('header .who').textContent()).toContain('Frank');
    await open('trunks');
    await expect.poll(() => main().textContent()).toContain('admin API key');
    // What needs the admin key says so and keeps the tab signed in.
    await open('system');
    await expect.poll(() => main().textContent()).toContain('the admin API key is required');
    await open(`users?id=${state.frank.id}`);
    // An account admin lists its users' devices (GET /v1/users/{id}/devices).
    await expect.poll(() => page().getByTestId('devices').textContent()).toContain('No devices connected');
    expect(await page().locator('header .who').textContent()).toContain('Frank');
    // Another account's user is out of reach.
    await page().goto(`${sb.url}/admin#users?id=user_not_mine`);
    await expect.poll(() => main().textContent()).toContain('no users');
    await signOut();
    await signIn(sb.adminKey);
    await page().waitForSelector('main[data-page="users"]');
  });

  it('routes a number to a user', async () => {
    await open('numbers');
    const f = page().getByTestId('number-create');
    await f.getByLabel('Number (E.164)', { exact: true }).fill('12345');
    await f.getByRole('button', { name: 'Add number' }).click();
    await expect.poll(() => f.locator('.form-err, .err').allTextContents()).toContainEqual(expect.stringContaining('E.164'));
    await f.getByLabel('Number (E.164)', { exact: true }).fill('+14155550199');
    await f.getByLabel('Routes to', { exact: true }).selectOption(`user:${state.frank.id}`);
    await f.getByRole('button', { name: 'Add number' }).click();
    await expect.poll(() => page().getByTestId('numbers-table').textContent()).toContain('+14155550199');
    const { body } = await rest('GET', '/v1/phone_numbers?limit=200');
    expect(body.data.find((n) => n.number === '+14155550199')?.user).toBe(state.frank.id);
  });

  it('adds a trunk and shows it registering live', async () => {
    await open('trunks');
    const f = page().getByTestId('trunk-create');
    await f.getByLabel('Name', { exact: true }).fill('lab');
    await f.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await f.getByLabel('Port', { exact: true }).fill(String(registrar.port));
    await f.getByLabel('Username', { exact: true }).fill('acct1');
    await f.getByLabel('Password', { exact: true }).fill('secret-pw');
    await f.getByLabel('Prefixes', { exact: true }).fill('+44');
    await f.getByLabel('Register to the trunk', { exact: true }).check();
    await f.getByRole('button', { name: 'Add trunk' }).click();
    const status = page().getByTestId('trunk-status-lab');
    await status.waitFor();
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toMatch(/^registered/);
    expect(await registrar.seen()).toContain('REGISTER sip:');
  });

  it('edits follow-me and route test explains the change', async () => {
    const explain = async () => {
      await open('route');
      const f = page().getByTestId('route-form');
      await f.getByLabel('From', { exact: true }).fill('101');
      await f.getByLabel('To', { exact: true }).fill('107');
      await f.getByRole('button', { name: 'Explain the route' }).click();
      const out = page().getByTestId('route-explain');
      await out.waitFor();
      return out.textContent();
    };
    expect(await explain()).not.toContain('follow-me');

    await open(`followme?user=${state.frank.id}`);
    const ed = page().getByTestId('followme-editor');
    await ed.getByRole('button', { name: 'Add step' }).click();
    await ed.getByLabel('For (s)', { exact: true }).fill('1');
    await ed.getByRole('button', { name: 'Save follow-me' }).click();
    await expect.poll(() => ed.locator('[data-field="steps[0].ring_seconds"] .err').textContent()).toMatch(/\S/);
    await ed.getByLabel('Ring', { exact: true }).fill('devices, 102');
    await ed.getByLabel('For (s)', { exact: true }).fill('15');
    await ed.getByLabel('When nobody answers, forward to', { exact: true }).fill('103');
    await ed.getByRole('button', { name: 'Save follow-me' }).click();
    await expect.poll(() => ed.getByRole('status').last().textContent()).toContain('Saved');

    const after = await explain();
    expect(after).toContain('follow-me');
    expect(after).toContain('103');
  });

  it('shows a live call, hangs it up, and finds it in history with its quality and recording', async () => {
    for (const b of [alice, bob]) {
      await reset(b);
      await connectPhone(b);
    }
    const before = (await rest('GET', '/v1/recording_policy')).body;
    expect((await rest('PATCH', '/v1/recording_policy', { mode: 'always' })).status).toBe(200);
    await open('live');
    await alice.page.evaluate(async () => { window.__t.call = await window.__t.phone.call('102'); });
    await takeIncoming(bob);
    await bob.page.evaluate(() => window.__t.call.answer());
    const row = page().getByTestId('live-table').locator('tbody tr');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => row.first().textContent(), { timeout: 10_000 }).toContain('active');
    // A 5-s window is rated before the hangup: MOS shows in place.
    await expect.poll(() => row.first().locator('td[data-label="MOS"]').textContent(), { timeout: 20_000 }).toMatch(/\d\.\d\d/);
    await screenshot('live-call');
    await row.first().getByRole('button', { name: /Hang up/ }).click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => alice.page.evaluate(() => window.__t.call.state), { timeout: 10_000 }).toBe('ended');
    await hangupAll(alice, bob);

    await open('history');
    const hist = page().getByTestId('history-table');
    const urls = [];
    page().on('request', (r) => urls.push(r.url()));
    // The server filters: Frank has no calls, alice's list names her in every row.
    await page().getByLabel('User', { exact: true }).selectOption(state.frank.id);
    await expect.poll(() => main().textContent()).toContain('No calls match.');
    await page().getByLabel('User', { exact: true }).selectOption(sb.users.alice.id);
    const first = hist.locator('tbody tr').first();
    await expect.poll(() => first.textContent()).toContain('hangup');
    expect(urls.some((u) => u.includes(`/v1/calls?`) && u.includes(`user=${sb.users.alice.id}`))).toBe(true);
    const { body: mine } = await rest('GET', `/v1/calls?limit=50&user=${sb.users.alice.id}`);
    await expect.poll(() => hist.locator('tbody tr').count()).toBe(mine.data.length);
    for (const r of await hist.locator('tbody tr').allTextContents()) expect(r).toMatch(/Alice|101/);
    // A bad value is answered next to its field.
    await page().getByLabel('Until date', { exact: true }).fill('2020-01-01');
    await page().getByLabel('From date', { exact: true }).fill('2021-01-01');
    await page().getByLabel('From date', { exact: true }).dispatchEvent('change');
    await expect.poll(() => page().locator('[data-field="to"] .err').textContent()).toContain('after from');
    await page().getByLabel('Until date', { exact: true }).fill('');
    await page().getByLabel('From date', { exact: true }).fill('');
    await page().getByLabel('From date', { exact: true }).dispatchEvent('change');
    await expect.poll(() => first.textContent()).toContain('hangup');
    expect(await first.locator('td[data-label="MOS"]').textContent()).toMatch(/\d\.\d\d/);
    await first.getByRole('button', { name: /Quality/ }).click();
    await expect.poll(() => page().getByTestId('quality').textContent()).toContain('average MOS');
    // Recorded (policy always): played from a signed URL that needs no key.
    expect((await rest('PATCH', '/v1/recording_policy', { mode: before.mode })).status).toBe(200);
    await first.getByRole('button', { name: /Recordings/ }).click();
    const recs = page().getByTestId('recordings');
    await expect.poll(() => recs.textContent(), { timeout: 10_000 }).toMatch(/\d+\.\d s · completed/);
    await recs.getByRole('button', { name: /Play recording/ }).first().click();
    const src = await page().getByTestId('recording-audio').first().getAttribute('src');
    expect(src).toMatch(/\/v1\/recordings\/rec_[^/]+\/file\?/);
    const wav = await fetch(new URL(src, sb.url));
    expect(wav.status).toBe(200);
    expect(Buffer.from(await wav.arrayBuffer()).subarray(0, 4).toString()).toBe('RIFF');
    await screenshot('history-recording');
  });

  it('lists the devices of a connected softphone page', async () => {
    await reset(alice);
    await connectPhone(alice);
    await open(`users?id=${sb.users.alice.id}`);
    const devices = page().getByTestId('devices-table');
    await expect.poll(() => devices.textContent(), { timeout: 10_000 }).toContain('WebRTC');
    const text = await devices.textContent();
    expect(text).toContain('Chrome'); // the page's User-Agent
    expect(text).toContain('127.0.0.1');
    expect(text).toContain('connected since');
    await screenshot('user-devices');
  });

  it('shows the version and the running config\'s problems', async () => {
    await open('system');
    const sys = page().getByTestId('system-table');
    await expect.poll(() => sys.textContent()).toContain('Version');
    const { body } = await rest('GET', '/v1/system');
    expect(await sys.textContent()).toContain(body.version);
    // The test server runs with --demo: the console says to turn it off.
    await expect.poll(() => page().getByTestId('config-problems').textContent()).toContain('demo mode is on');
    expect(await page().locator('[data-testid="config-problems"] li[data-code="demo_mode"]').count()).toBe(1);
  });

  it('transfers a live call\'s caller', async () => {
    for (const b of [alice, bob]) {
      await reset(b);
      await connectPhone(b);
    }
    await open('live');
    await alice.page.evaluate(async () => { window.__t.call = await window.__t.phone.call('102'); });
    await takeIncoming(bob);
    await bob.page.evaluate(() => window.__t.call.answer());
    const row = page().getByTestId('live-table').locator('tbody tr');
    await expect.poll(() => row.first().textContent(), { timeout: 10_000 }).toContain('active');
    await row.first().getByLabel('Transfer to', { exact: true }).fill('103');
    await row.first().getByRole('button', { name: 'Transfer caller' }).click();
    await expect.poll(() => main().getByRole('status').last().textContent()).toContain('Transfer started');
    // Bob leaves (transferred) and alice is sent on to 103 (nobody is
    // signed in there, so that ends the call); the record says who did it.
    await expect.poll(() => bob.page.evaluate(() => window.__t.call.state), { timeout: 10_000 }).toBe('ended');
    await hangupAll(alice, bob);
    const { body } = await rest('GET', '/v1/calls?limit=1');
    expect(body.data[0].transfer).toContain('by supervisor');
    expect(body.data[0].transfer).toContain('103');
  });

  it('is keyboard accessible', async () => {
    await open('users');
    await page().reload(); // focus starts at the top of the page
    await page().waitForSelector('main[data-page="users"]');
    let label = '';
    for (let i = 0; i < 20 && label !== 'Numbers'; i++) {
      await page().keyboard.press('Tab');
      label = await page().evaluate(() => document.activeElement?.textContent ?? '');
    }
    expect(label).toBe('Numbers');
    await page().keyboard.press('Enter');
    await page().waitForSelector('main[data-page="numbers"]');
    expect(await page().evaluate(() => document.activeElement?.id)).toBe('main');
  });

  it('renders every page at desktop and phone width', async () => {
    for (const [width, height, tag] of [[1280, 900, 'desktop'], [390, 844, '390']]) {
      await page().setViewportSize({ width, height });
      for (const id of PAGES) {
        await open(id === 'followme' ? `followme?user=${state.frank.id}` : id);
        if (width === 390) {
          const overflow = await page().evaluate(() => document.documentElement.scrollWidth);
          expect(overflow, `${id} at 390 px`).toBeLessThanOrEqual(390);
        }
        await screenshot(`${id}-${tag}`);
      }
    }
    await page().setViewportSize({ width: 1280, height: 800 });
    expect(admin.errors, 'uncaught errors in the console').toEqual([]);
    expect(admin.logs.filter((l) => /Content Security Policy|Refused to/.test(l))).toEqual([]);
  });
});

async function screenshot(name) {
  await page().screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
