// Numbers: E.164 numbers, each routed to a user or a ring group.
import { api, enc, listAll, type Json } from '../api.js';
import { button, dangerButton, h, replace, table } from '../dom.js';
import { form, showError } from '../form.js';
import type { Page } from '../page.js';

/** The route a number has, as a select value: "user:ID", "rg:ID" or "". */
const routeOf = (n: Json): string => (n.user ? `user:${n.user}` : n.ring_group_id ? `rg:${n.ring_group_id}` : '');

/** The body for a route select value. */
function routeBody(v: string): Json {
  if (v.startsWith('user:')) return { user: v.slice(5) };
  if (v.startsWith('rg:')) return { ring_group_id: v.slice(3) };
  return { user: '' };
}

export const numbers: Page = {
  id: 'numbers',
  title: 'Numbers',
  async render(root, nav) {
    const [nums, users, groups] = await Promise.all([listAll('/v1/phone_numbers'), listAll('/v1/users'), listAll('/v1/ring_groups')]);
    const options: [string, string][] = [['', '(not routed)'],
      ...users.map((u): [string, string] => [`user:${u.id}`, `User ${u.name} (${u.extension})`]),
      ...groups.map((g): [string, string] => [`rg:${g.id}`, `Ring group ${g.name}${g.extension ? ` (${g.extension})` : ''}`])];
    const rows = nums.map((n) => {
      const sel = h('select', { 'aria-label': `Route of ${n.number}`, name: 'route' },
        options.map(([v, l]) => h('option', { value: v, selected: v === routeOf(n) }, l)));
      const cell = h('div', { class: 'inline', 'data-field': 'user' }, sel,
        button('Save', async () => {
          try {
            await api('PATCH', `/v1/phone_numbers/${enc(n.id)}`, routeBody(sel.value));
            nav.go('numbers');
          } catch (err) {
            showError(cell, err);
          }
        }, { 'aria-label': `Save route of ${n.number}` }),
        h('p', { class: 'err' }), h('p', { class: 'form-err', role: 'alert' }));
      return [n.number, cell, dangerButton('Delete', async () => {
        await api('DELETE', `/v1/phone_numbers/${enc(n.id)}`);
        nav.go('numbers');
      }, { 'aria-label': `Delete ${n.number}` })];
    });
    replace(root,
      h('h2', null, 'Numbers'),
      table('Phone numbers', ['Number', 'Routes to', ''], rows, 'numbers-table'),
      form({
        title: 'Add a number', testid: 'number-create', submit: 'Add number',
        fields: [
          { name: 'number', label: 'Number (E.164)', placeholder: '+14155550100', required: true },
          { name: 'route', label: 'Routes to', type: 'select', options },
        ],
        async onSubmit(v) {
          const route = routeBody(String(v.route));
          if (route.user === '') delete route.user;
          await api('POST', '/v1/phone_numbers', { number: v.number, ...route });
          nav.go('numbers');
        },
      }));
  },
};
