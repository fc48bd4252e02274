// Routing: route test, follow-me, ring groups and the dial plan.
import { api, ApiError, enc, listAll, type Json } from '../api.js';
import { button, dangerButton, h, note, replace, table } from '../dom.js';
import { clearErrors, defined, fieldBlock, form, showError, type Field } from '../form.js';
import type { Page } from '../page.js';

export const routeTest: Page = {
  id: 'route',
  title: 'Route test',
  async render(root, nav) {
    const out = h('div', { 'aria-live': 'polite', 'data-testid': 'route-result' });
    replace(root, h('h2', null, 'Route test'),
      h('p', { class: 'hint' }, 'How would a call go? Nothing is dialled.'),
      form({
        testid: 'route-form', submit: 'Explain the route',
        fields: [
          { name: 'from', label: 'From', value: nav.params.get('from') ?? '', hint: 'an extension, a user id, or "trunk"', required: true },
          { name: 'destination', label: 'To', value: nav.params.get('to') ?? '', hint: 'what the caller dials', required: true },
        ],
        async onSubmit(v) {
          const p = await api('POST', '/v1/route_test', v);
          replace(out, h('section', { class: 'card' },
            h('p', null, h('strong', null, `Action: ${p.action}`), p.error ? ` — ${p.error}` : ''),
            h('ol', { class: 'explain', 'data-testid': 'route-explain' }, (p.explain as string[]).map((l) => h('li', null, l)))));
        },
      }), out);
  },
};

interface Step { targets: string[]; ring_seconds: number }

export const followMe: Page = {
  id: 'followme',
  title: 'Follow-me',
  async render(root, nav) {
    const users = await listAll('/v1/users');
    const id = nav.params.get('user') ?? users[0]?.id;
    const pick = fieldBlock('fm-user', { name: 'user', label: 'User', type: 'select', value: id,
      options: users.map((u): [string, string] => [u.id, `${u.name} (${u.extension})`]) });
    pick.querySelector('select')!.addEventListener('change', (e) => nav.go(`followme?user=${enc((e.target as HTMLSelectElement).value)}`));
    if (!id) {
      replace(root, h('h2', null, 'Follow-me'), note('No users yet.'));
      return;
    }
    let fm: Json = null;
    try {
      fm = await api('GET', `/v1/users/${enc(id)}/follow_me`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    const steps: Step[] = fm?.steps?.map((s: Step) => ({ ...s })) ?? [];
    const box = h('div');
    const stepsEl = h('div', { class: 'steps', 'data-field': 'steps' });
    const final: Field = { name: 'final_forward', label: 'When nobody answers, forward to', value: fm?.final_forward ?? '', hint: 'any destination; empty: the call ends no-answer' };
    const status = h('p', { role: 'status', class: 'form-ok' });
    const drawSteps = () => replace(stepsEl, steps.map((s, i) => h('fieldset', { class: 'step' },
      h('legend', null, `Step ${i + 1}`),
      fieldBlock(`fm${i}`, { name: `steps[${i}].targets`, label: 'Ring', type: 'list', value: s.targets, hint: '"devices", extensions or numbers, comma-separated' }),
      fieldBlock(`fm${i}`, { name: `steps[${i}].ring_seconds`, label: 'For (s)', type: 'number', value: s.ring_seconds }),
      button('Remove step', () => {
        read();
        steps.splice(i, 1);
        drawSteps();
      }, { 'aria-label': `Remove step ${i + 1}` }))), h('p', { class: 'err' }));
    const read = () => steps.forEach((s, i) => {
      const t = stepsEl.querySelector<HTMLInputElement>(`[name="steps[${i}].targets"]`)!.value;
      const r = stepsEl.querySelector<HTMLInputElement>(`[name="steps[${i}].ring_seconds"]`)!.value;
      s.targets = t.split(/[\s,]+/).filter(Boolean);
      s.ring_seconds = Number(r);
    });
    drawSteps();
    const save = async () => {
      read();
      clearErrors(box);
      status.textContent = '';
      try {
        const finalValue = box.querySelector<HTMLInputElement>('[name="final_forward"]')!.value.trim();
        await api('PUT', `/v1/users/${enc(id)}/follow_me`, { steps, final_forward: finalValue });
        status.textContent = 'Saved.';
      } catch (err) {
        showError(box, err);
      }
    };
    replace(box,
      h('p', { class: 'hint' }, fm ? `Updated ${new Date(fm.updated_at).toLocaleString()}` : 'No follow-me: calls ring the user\'s devices.'),
      stepsEl,
      button('Add step', () => {
        read();
        steps.push({ targets: ['devices'], ring_seconds: 20 });
        drawSteps();
        stepsEl.querySelector<HTMLInputElement>(`[name="steps[${steps.length - 1}].targets"]`)?.focus();
      }),
      fieldBlock('fm', final),
      h('p', { class: 'form-err', role: 'alert' }),
      h('div', { class: 'actions' },
        button('Save follow-me', save, { class: 'primary' }),
        fm ? dangerButton('Clear follow-me', async () => {
          await api('DELETE', `/v1/users/${enc(id)}/follow_me`);
          nav.go(`followme?user=${enc(id)}`);
        }) : null,
        h('a', { href: `#route?to=${enc(users.find((u) => u.id === id)?.extension ?? '')}` }, 'Try it in route test')),
      status);
    replace(root, h('h2', null, 'Follow-me'), pick, h('section', { class: 'card', 'data-testid': 'followme-editor' }, box));
  },
};

export const ringGroups: Page = {
  id: 'groups',
  title: 'Ring groups',
  async render(root, nav) {
    const [groups, users] = await Promise.all([listAll('/v1/ring_groups'), listAll('/v1/users')]);
    const names = new Map(users.map((u) => [u.id, u.name]));
    const editId = nav.params.get('id');
    const editing = groups.find((g) => g.id === editId);
    const fields = (g: Json = {}): Field[] => [
      { name: 'name', label: 'Name', value: g.name, required: true },
      { name: 'extension', label: 'Extension', value: g.extension, hint: 'optional' },
      { name: 'members', label: 'Members', type: 'checkboxes', value: g.members, options: users.map((u): [string, string] => [u.id, `${u.name} (${u.extension})`]) },
      { name: 'ring_seconds', label: 'Ring for (s)', type: 'number', value: g.ring_seconds, placeholder: '30' },
      { name: 'next', label: 'Then forward to', value: g.next, hint: 'empty: the call ends no-answer' },
    ];
    const rows = groups.map((g) => [h('a', { href: `#groups?id=${enc(g.id)}` }, g.name), g.extension || '–',
      (g.members as string[]).map((m) => names.get(m) ?? m).join(', '), `${g.ring_seconds} s`, g.next || '–',
      dangerButton('Delete', async () => {
        await api('DELETE', `/v1/ring_groups/${enc(g.id)}`);
        nav.go('groups');
      }, { 'aria-label': `Delete ring group ${g.name}` })]);
    replace(root, h('h2', null, 'Ring groups'),
      table('Ring groups', ['Name', 'Extension', 'Members', 'Rings', 'Then', ''], rows, 'groups-table'),
      form({
        title: editing ? `Edit ${editing.name}` : 'New ring group', testid: 'group-form', submit: editing ? 'Save' : 'Create ring group',
        fields: fields(editing),
        async onSubmit(v) {
          const body = defined(v);
          if (editing) await api('PATCH', `/v1/ring_groups/${enc(editing.id)}`, body);
          else {
            if (!body.extension) delete body.extension;
            await api('POST', '/v1/ring_groups', body);
          }
          nav.go('groups');
        },
      }));
  },
};

export const dialPlan: Page = {
  id: 'dialplan',
  title: 'Dial plan',
  async render(root) {
    const p = await api('GET', '/v1/dial_plan');
    replace(root, h('h2', null, 'Dial plan'),
      h('p', { class: 'hint' }, p.updated_at ? `Updated ${new Date(p.updated_at).toLocaleString()}` : 'The default plan (never changed).'),
      form({
        testid: 'dialplan-form', submit: 'Save dial plan',
        fields: [
          { name: 'extension_length', label: 'Extension length', type: 'number', value: p.extension_length, hint: '0: any 2 to 8 digits' },
          { name: 'country', label: 'Country', value: p.country, hint: 'ISO code national numbers are read in; empty: callers dial +' },
          { name: 'emergency_numbers', label: 'Emergency numbers', type: 'list', value: p.emergency_numbers },
          { name: 'emergency_trunk', label: 'Emergency trunk', value: p.emergency_trunk, hint: 'empty: every trunk by priority' },
          { name: 'international_allow', label: 'International prefixes allowed', type: 'list', value: p.international_allow, hint: '+44, +33; + allows all' },
          { name: 'max_outbound_calls', label: 'Most outbound calls at once', type: 'number', value: p.max_outbound_calls, hint: '0: no cap' },
          { name: 'emergency_address_required', label: 'Require an emergency address for outbound calls from browsers', type: 'checkbox', value: p.emergency_address_required },
        ],
        async onSubmit(v) {
          await api('PUT', '/v1/dial_plan', defined(v));
        },
      }));
  },
};
