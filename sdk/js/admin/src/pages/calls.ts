// Live calls (refreshed in place, with hang up and transfer) and the call
// history (filters, quality).
import { api, enc, listAll, type Json } from '../api.js';
import { button, h, note, replace, setText, table, tableRow, when } from '../dom.js';
import { fieldBlock, readValues, showError, type Field } from '../form.js';
import type { Page } from '../page.js';

/** The lowest MOS among legs: a live leg's latest window or a record's average. */
export function mosOf(legs: Json[] | undefined): string {
  const m = (legs ?? []).map((l) => l.quality?.mos ?? l.quality?.avg_mos).filter((x): x is number => typeof x === 'number');
  return m.length ? Math.min(...m).toFixed(2) : '–';
}

const party = (name: string, num: string): string => (name && name !== num ? `${name} (${num})` : num);

const liveHead = ['From', 'To', 'State', 'Talking', 'MOS', 'Actions'];

export const live: Page = {
  id: 'live',
  title: 'Live calls',
  async render(root, nav) {
    const tbody = h('tbody');
    const status = h('p', { class: 'note', role: 'status' });
    const rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLElement[] }>();
    const refresh = async () => {
      const { data } = await api('GET', '/v1/calls?status=active&limit=200');
      const seen = new Set<string>();
      for (const c of data as Json[]) {
        seen.add(c.id);
        let r = rows.get(c.id);
        if (!r) {
          const cells = [h('span'), h('span'), h('span'), h('span'), h('span')];
          const tr = tableRow(liveHead, [...cells, actions(c, status)]);
          tr.dataset.call = c.id;
          r = { tr, cells };
          rows.set(c.id, r);
          tbody.append(tr);
        }
        const texts = [party(c.from_name, c.from), c.to, c.state + (c.transferring ? ' (transferring)' : ''),
          c.duration_s == null ? '' : `${c.duration_s} s`, mosOf(c.legs)];
        texts.forEach((t, i) => setText(r!.cells[i], t));
      }
      for (const [id, r] of rows) {
        if (!seen.has(id)) {
          r.tr.remove();
          rows.delete(id);
        }
      }
      setText(status, rows.size ? `${rows.size} call${rows.size === 1 ? '' : 's'} up · updated ${new Date().toLocaleTimeString()}` : 'No calls up now.');
    };
    replace(root, h('h2', null, 'Live calls'),
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Live calls', 'data-testid': 'live-table' },
        h('thead', null, h('tr', null, liveHead.map((c) => h('th', { scope: 'col' }, c)))), tbody)),
      status);
    await refresh();
    nav.every(1000, refresh);
  },
};

function actions(c: Json, status: HTMLElement): HTMLElement {
  const box = h('div', { class: 'inline' });
  const f: Field = { name: 'to', label: 'Transfer to', placeholder: 'extension or number' };
  const to = fieldBlock(`xfer-${c.id}`, f);
  box.append(
    button('Hang up', async () => {
      try {
        await api('POST', `/v1/calls/${enc(c.id)}/hangup`);
        setText(status, `Call ${c.from} → ${c.to} hung up.`);
      } catch (err) {
        setText(status, (err as Error).message);
      }
    }, { class: 'danger', 'aria-label': `Hang up ${c.from} to ${c.to}` }),
    to,
    button('Transfer caller', async () => {
      try {
        await api('POST', `/v1/calls/${enc(c.id)}/transfer`, { to: readValues(to, [f]).to, party: 'caller' });
        setText(status, 'Transfer started.');
      } catch (err) {
        showError(box, err);
      }
    }),
    h('p', { class: 'form-err', role: 'alert' }));
  return box;
}

const directions: [string, string][] = [['', 'any'], ['internal', 'internal'], ['inbound', 'inbound'], ['outbound', 'outbound']];

export const history: Page = {
  id: 'history',
  title: 'History',
  async render(root) {
    const [calls, users] = await Promise.all([listAll('/v1/calls', 1000), listAll('/v1/users')]);
    const names = new Map(users.map((u) => [u.id, `${u.name} (${u.extension})`]));
    const reasons = [...new Set(calls.map((c) => c.end_reason).filter(Boolean))].sort();
    const fields: Field[] = [
      { name: 'user', label: 'User', type: 'select', options: [['', 'anyone'], ...users.map((u): [string, string] => [u.id, `${u.name} (${u.extension})`])] },
      { name: 'direction', label: 'Direction', type: 'select', options: directions },
      { name: 'reason', label: 'End reason', type: 'select', options: [['', 'any'], ...reasons.map((r): [string, string] => [r, r])] },
      { name: 'from', label: 'From date', type: 'date' },
      { name: 'until', label: 'Until date', type: 'date' },
    ];
    const filters = h('form', { class: 'filters', 'aria-label': 'Filters', role: 'search' }, fields.map((f) => fieldBlock('hist', f)));
    const out = h('div');
    const detail = h('div', { 'aria-live': 'polite' });
    const show = () => {
      const v = readValues(filters, fields) as Record<string, string>;
      const from = v.from ? new Date(`${v.from}T00:00:00`).getTime() : -Infinity;
      const until = v.until ? new Date(`${v.until}T23:59:59`).getTime() : Infinity;
      const shown = calls.filter((c) => (!v.user || c.from_user === v.user || c.to_user === v.user)
        && (!v.direction || c.direction === v.direction) && (!v.reason || c.end_reason === v.reason)
        && Date.parse(c.started_at) >= from && Date.parse(c.started_at) <= until);
      replace(out, shown.length ? table('Call history', ['Started', 'From', 'To', 'Direction', 'Talked', 'End', 'MOS', ''],
        shown.map((c) => [when(c.started_at), c.from_user ? names.get(c.from_user) ?? c.from : party(c.from_name, c.from),
          c.to_user ? names.get(c.to_user) ?? c.to : c.to, c.direction, talked(c), c.end_reason ?? c.status, mosOf(c.legs),
          button('Quality', () => quality(c, detail), { 'aria-label': `Quality of ${c.from} to ${c.to}` })]), 'history-table')
        : note('No calls match.'));
    };
    filters.addEventListener('change', show);
    filters.addEventListener('submit', (e) => e.preventDefault());
    replace(root, h('h2', null, 'History'), filters, out, detail);
    show();
  },
};

function talked(c: Json): string {
  if (!c.answered_at) return '';
  const end = c.ended_at ? Date.parse(c.ended_at) : Date.now();
  return `${Math.round((end - Date.parse(c.answered_at)) / 1000)} s`;
}

async function quality(c: Json, out: HTMLElement): Promise<void> {
  try {
    const q = await api('GET', `/v1/calls/${enc(c.id)}/quality`);
    replace(out, h('section', { class: 'card', 'data-testid': 'quality' },
      h('h3', null, `Quality of ${c.from} → ${c.to}`),
      (c.legs as Json[]).map((l) => h('p', null, `${l.role} leg (${l.kind}, ${l.codec || 'no codec'}): `,
        l.quality ? `average MOS ${l.quality.avg_mos.toFixed(2)}, lowest ${l.quality.min_mos.toFixed(2)} over ${l.quality.samples} windows`
          : 'no rated window'))),
      (q.legs as Json[]).map((l) => table(`Windows of leg ${l.leg_id}`, ['Offset', 'MOS', 'Loss %', 'Jitter ms'],
        (l.samples as Json[]).map((s) => [`${s.offset_s} s`, s.mos.toFixed(2), s.loss_pct.toFixed(1), s.jitter_ms.toFixed(1)]))));
  } catch (err) {
    replace(out, note((err as Error).message, 'bad'));
  }
}
