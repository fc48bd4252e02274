// Users: the list, a new-user form, and an editor with SIP credentials
// (a generated password revealed once), sessions and devices.
import { api, ApiError, enc, listAll, type Json } from '../api.js';
import { button, dangerButton, h, note, replace, table, when } from '../dom.js';
import { defined, form, type Field } from '../form.js';
import type { Page } from '../page.js';

const roleOptions: [string, string][] = [['user', 'User'], ['admin', 'Admin (this account)']];

/** A random SIP password: 18 bytes of crypto randomness, base64url. */
export function newPassword(): string {
  const b = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A secret shown once: the only time the console has it. */
export function reveal(label: string, secret: string): HTMLElement {
  const box: HTMLElement = h('div', { class: 'reveal', role: 'status', 'data-testid': 'reveal' },
    h('p', null, `${label} (shown once; only a hash is kept):`),
    h('code', { 'data-testid': 'secret' }, secret), ' ',
    button('Copy', () => navigator.clipboard?.writeText(secret).catch(() => {})),
    button('Done', () => box.remove()));
  return box;
}

const userFields = (u: Json = {}): Field[] => [
  { name: 'name', label: 'Name', value: u.name, required: true, autocomplete: 'name' },
  { name: 'extension', label: 'Extension', value: u.extension, required: true, hint: '2 to 8 digits' },
  { name: 'role', label: 'Role', type: 'select', options: roleOptions, value: u.role ?? 'user' },
  { name: 'do_not_disturb', label: 'Do not disturb', type: 'checkbox', value: u.do_not_disturb },
  { name: 'can_call_external', label: 'Can call external numbers', type: 'checkbox', value: u.can_call_external ?? true },
  { name: 'ring_timeout_seconds', label: 'Ring timeout (s)', type: 'number', value: u.ring_timeout_seconds || '', hint: '5 to 600; empty: the server default' },
];

export const users: Page = {
  id: 'users',
  title: 'Users',
  async render(root, nav) {
    const list = await listAll('/v1/users');
    const editId = nav.params.get('id');
    const secrets = h('div');
    const rows = list.map((u) => [
      h('a', { href: `#users?id=${enc(u.id)}` }, u.name), u.extension, u.role ?? 'user',
      u.do_not_disturb ? 'on' : '', u.can_call_external ? 'yes' : 'no',
      h('a', { href: `#followme?user=${enc(u.id)}` }, 'Follow-me')]);
    const create = form({
      title: 'New user', testid: 'user-create', submit: 'Create user',
      fields: [...userFields(), { name: 'sip_username', label: 'SIP username', hint: 'empty: the extension' }],
      async onSubmit(v) {
        const body = defined({ ...v, sip_username: v.sip_username || undefined });
        const u = await api('POST', '/v1/users', body);
        nav.go(`users?id=${enc(u.id)}`, () => {
          if (u.sip_password) document.getElementById('user-secrets')?.append(reveal(`SIP password of ${u.sip_username}`, u.sip_password));
        });
      },
    });
    secrets.id = 'user-secrets';
    replace(root,
      h('h2', null, 'Users'),
      table('Users', ['Name', 'Extension', 'Role', 'DND', 'External', ''], rows, 'users-table'),
      secrets,
      editId ? await editor(editId, nav) : null,
      h('details', { open: !list.length || !editId }, h('summary', null, 'Add a user'), create));
  },
};

async function editor(id: string, nav: Parameters<Page['render']>[1]): Promise<HTMLElement> {
  let u: Json;
  try {
    u = await api('GET', `/v1/users/${enc(id)}`);
  } catch (err) {
    return note((err as Error).message, 'bad');
  }
  const fields = userFields(u);
  const edit = form({
    title: `Edit ${u.name}`, testid: 'user-edit', submit: 'Save', fields,
    async onSubmit(v) {
      const body = defined(v);
      if (body.ring_timeout_seconds === undefined) delete body.ring_timeout_seconds;
      u = await api('PATCH', `/v1/users/${enc(id)}`, body);
    },
  });
  const sipOut = h('div');
  const sip = form({
    title: 'SIP credentials (desk phones)', testid: 'user-sip', submit: 'Generate new SIP password',
    fields: [{ name: 'sip_username', label: 'SIP username', value: u.sip_username }],
    async onSubmit(v) {
      const pw = newPassword();
      u = await api('PATCH', `/v1/users/${enc(id)}`, { sip_username: v.sip_username, sip_password: pw });
      replace(sipOut, reveal(`SIP password of ${u.sip_username}`, pw));
    },
  });
  const devices = h('div', { 'data-testid': 'devices' }, note('Loading devices…'));
  void loadDevices(id, devices);
  const sessions = h('p', { role: 'status' });
  return h('section', { class: 'card', 'aria-label': `User ${u.name}`, 'data-testid': 'user-editor' },
    h('p', { class: 'meta' }, h('code', null, u.id), ` · created ${when(u.created_at)}`),
    edit, sip, sipOut,
    h('h3', null, 'Sessions'),
    h('div', { class: 'actions' },
      button('Revoke sessions', async () => {
        try {
          await api('POST', `/v1/users/${enc(id)}/revoke_sessions`);
          replace(sessions, 'Every token of this user is revoked; their browsers are signed out.');
        } catch (err) {
          replace(sessions, (err as Error).message);
        }
      }),
      dangerButton('Delete user', async () => {
        await api('DELETE', `/v1/users/${enc(id)}`);
        nav.go('users');
      })),
    sessions,
    h('h3', null, 'Devices'), devices);
}

async function loadDevices(id: string, out: HTMLElement): Promise<void> {
  const parts: HTMLElement[] = [];
  try {
    const p = await api('GET', `/v1/users/${enc(id)}/presence`);
    parts.push(h('p', null, `Presence: ${p.status}${p.status_text ? ` (${p.status_text})` : ''}`));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) parts.push(note((err as Error).message, 'bad'));
  }
  try {
    const { data } = await api('GET', `/v1/users/${enc(id)}/devices`);
    parts.push(data.length
      ? table('Devices on this node', ['Kind', 'Device', 'User agent', 'Address', 'State'],
        (data as Json[]).map((d) => d.kind === 'sip'
          ? ['SIP', d.contact, d.user_agent, `${d.source} (${d.transport})`, `registered until ${when(d.expires_at)}`]
          : ['WebRTC', d.session_id, d.user_agent, d.source, `${d.state} since ${when(d.connected_at)}`]), 'devices-table')
      : h('p', null, 'No devices connected or registered on this node.'));
  } catch (err) {
    parts.push(note(`Devices: ${(err as Error).message}`, 'bad'));
  }
  try {
    const l = await api('GET', `/v1/cluster/locations/${enc(id)}`);
    parts.push(l.data.length
      ? table('Devices in the cluster', ['Kind', 'Device', 'Address', 'Node', 'Expires'],
        l.data.map((d: Json) => [d.kind, d.device, d.flow ?? '', d.node, when(d.expires)]))
      : h('p', null, 'No devices elsewhere in the cluster.'));
  } catch (err) {
    // Outside cluster mode (or with an admin user's token) the node's list above is all there is.
    const e = err as ApiError;
    if (e.code !== 'cluster_disabled' && e.status !== 401 && e.status !== 403) parts.push(note(`Cluster devices: ${e.message}`, 'bad'));
  }
  replace(out, parts);
}
