// Trunks: the server's SIP trunks with their registration and OPTIONS
// reachability, refreshed in place.
import { api, enc, listAll, type Json } from '../api.js';
import { dangerButton, h, note, replace, setText, table } from '../dom.js';
import { defined, form } from '../form.js';
import type { Page } from '../page.js';

const statusText = (t: Json): string => {
  const r = t.registration ?? { state: 'off' };
  if (!t.register) return 'not registering (peer by address)';
  return r.state + (r.last_error ? `: ${r.last_error}` : '') + (r.expires_at ? ` (until ${new Date(r.expires_at).toLocaleTimeString()})` : '');
};

const optionsText = (t: Json): string => {
  const o = t.options ?? { state: 'off' };
  if (o.state === 'off') return 'not pinged (sip.trunk_options_interval)';
  if (o.state === 'reachable') return `reachable, ${o.rtt_ms.toFixed(1)} ms (${o.status})`;
  return o.state + (o.last_error ? `: ${o.last_error}` : '');
};

export const trunks: Page = {
  id: 'trunks',
  title: 'Trunks',
  async render(root, nav) {
    let list: Json[];
    try {
      list = await listAll('/v1/trunks');
    } catch (err) {
      replace(root, h('h2', null, 'Trunks'), note((err as Error).message, 'bad'));
      return;
    }
    const cells = new Map<string, [HTMLElement, HTMLElement]>();
    const rows = list.map((t) => {
      const st = h('span', { class: `badge ${t.registration?.state ?? 'off'}`, 'data-testid': `trunk-status-${t.name}` }, statusText(t));
      const op = h('span', { class: `badge ${t.options?.state ?? 'off'}`, 'data-testid': `trunk-options-${t.name}` }, optionsText(t));
      cells.set(t.id, [st, op]);
      return [t.name, `${t.host}:${t.port}/${t.transport}`, t.prefixes.join(' ') || 'all', String(t.priority), st, op,
        dangerButton('Delete', async () => {
          await api('DELETE', `/v1/trunks/${enc(t.id)}`);
          nav.go('trunks');
        }, { 'aria-label': `Delete trunk ${t.name}` })];
    });
    nav.every(2000, async () => {
      for (const t of await listAll('/v1/trunks')) {
        const c = cells.get(t.id);
        if (!c) continue;
        const [st, op] = c;
        setText(st, statusText(t));
        st.className = `badge ${t.registration?.state ?? 'off'}`;
        setText(op, optionsText(t));
        op.className = `badge ${t.options?.state ?? 'off'}`;
      }
    });
    replace(root,
      h('h2', null, 'Trunks'),
      table('Trunks', ['Name', 'Address', 'Prefixes', 'Priority', 'Registration', 'OPTIONS', ''], rows, 'trunks-table'),
      h('details', { open: !list.length }, h('summary', null, 'Add a trunk'), form({
        title: 'New trunk', testid: 'trunk-create', submit: 'Add trunk',
        fields: [
          { name: 'name', label: 'Name', required: true, hint: 'letters, digits, - and _' },
          { name: 'host', label: 'Host', required: true },
          { name: 'port', label: 'Port', type: 'number', placeholder: '5060' },
          { name: 'transport', label: 'Transport', type: 'select', options: [['udp', 'UDP'], ['tcp', 'TCP']] },
          { name: 'username', label: 'Username' },
          { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password' },
          { name: 'prefixes', label: 'Prefixes', type: 'list', hint: 'comma-separated, e.g. +1, +44; empty: every number' },
          { name: 'priority', label: 'Priority', type: 'number', hint: 'lower first' },
          { name: 'register', label: 'Register to the trunk', type: 'checkbox' },
          { name: 'register_expires', label: 'Registration expiry (s)', type: 'number', placeholder: '600' },
        ],
        async onSubmit(v) {
          const body = defined(v);
          if (!body.username) delete body.username;
          if (!body.password) delete body.password;
          await api('POST', '/v1/trunks', body);
          nav.go('trunks');
        },
      })));
  },
};
