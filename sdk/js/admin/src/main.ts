// Switchboard's admin console: signs in with the admin key or an admin
// user's token, then shows one page at a time (hash routes, so the
// credential never enters a URL and the back button works).
import { api, ApiError, credential, setUnauthorizedHandler } from './api.js';
import { h, note, replace } from './dom.js';
import { form } from './form.js';
import type { Nav, Page } from './page.js';
import { history, live } from './pages/calls.js';
import { numbers } from './pages/numbers.js';
import { dialPlan, followMe, ringGroups, routeTest } from './pages/routing.js';
import { system, webhooks } from './pages/system.js';
import { trunks } from './pages/trunks.js';
import { users } from './pages/users.js';

const pages: Page[] = [users, numbers, trunks, live, history, routeTest, followMe, ringGroups, dialPlan, webhooks, system];

const app = document.getElementById('app')!;
let leave: (() => void)[] = [];

function stopPage(): void {
  for (const f of leave) f();
  leave = [];
}

function signIn(message = ''): void {
  stopPage();
  credential.clear();
  document.title = 'Sign in · Switchboard admin';
  const f = form({
    title: 'Sign in', testid: 'signin', submit: 'Sign in',
    fields: [{ name: 'credential', label: 'Admin key or admin user token', type: 'password', required: true, autocomplete: 'current-password',
      hint: 'Kept in this tab only (sessionStorage) and sent as a Bearer header.' }],
    async onSubmit(v) {
      const cred = String(v.credential);
      try {
        await api('GET', '/v1/users?limit=1', undefined, cred);
      } catch (err) {
        const e = err as ApiError;
        const msg = e.status === 401 ? 'Not accepted: check the key or token.'
          : e.code === 'admin_key_required' ? 'This user token has no admin role.' : e.message;
        throw new ApiError(e.status, e.code, msg, 'credential');
      }
      credential.set(cred);
      location.hash = location.hash && location.hash !== '#' ? location.hash : '#users';
      void show();
    },
  });
  replace(app, h('main', { id: 'main', class: 'signin' }, h('h1', null, 'Switchboard admin'), message ? note(message, 'bad') : null, f));
  f.querySelector('input')?.focus();
}

async function who(): Promise<string> {
  try {
    const me = await api('GET', '/v1/me');
    return `${me.name} (${me.extension}), admin of ${me.account}`;
  } catch {
    return 'the admin key';
  }
}

let whoText = '';

async function show(after?: () => void): Promise<void> {
  if (!credential.get()) return signIn();
  stopPage();
  const [id, query] = location.hash.slice(1).split('?');
  const page = pages.find((p) => p.id === id) ?? pages[0];
  whoText ||= await who();
  const main = h('main', { id: 'main', tabindex: '-1', 'data-page': page.id });
  const nav: Nav = {
    params: new URLSearchParams(query ?? ''),
    go(hash, then) {
      if (location.hash === `#${hash}`) void show(then);
      else {
        pendingAfter = then;
        location.hash = hash;
      }
    },
    onLeave: (f) => leave.push(f),
    every(ms, f) {
      let stopped = false;
      let timer = 0;
      const tick = async () => {
        try {
          await f();
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 401)) console.warn('refresh failed:', err);
        }
        if (!stopped) timer = window.setTimeout(tick, ms);
      };
      timer = window.setTimeout(tick, ms);
      leave.push(() => {
        stopped = true;
        clearTimeout(timer);
      });
    },
  };
  replace(app,
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', null,
      h('p', { class: 'brand' }, 'Switchboard admin'),
      h('p', { class: 'who' }, `Signed in with ${whoText}`),
      h('button', { type: 'button', onclick: () => { whoText = ''; signIn(); } }, 'Sign out')),
    h('nav', { 'aria-label': 'Console pages' }, h('ul', null, pages.map((p) =>
      h('li', null, h('a', { href: `#${p.id}`, 'aria-current': p === page ? 'page' : undefined }, p.title))))),
    main);
  document.title = `${page.title} · Switchboard admin`;
  replace(main, note('Loading…'));
  try {
    await page.render(main, nav);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    replace(main, h('h2', null, page.title), note((err as Error).message, 'bad'));
  }
  after?.();
}

let pendingAfter: (() => void) | undefined;

setUnauthorizedHandler(() => {
  whoText = '';
  signIn('The server no longer accepts this key or token: sign in again.');
});
window.addEventListener('hashchange', () => {
  const then = pendingAfter;
  pendingAfter = undefined;
  void show(then).then(() => document.getElementById('main')?.focus());
});
void show();
