// Live calls (refreshed in place, with hang up and transfer) and the call
// history (filters, quality).
import { api, enc, listAll, type Json } from '../api.js';
import { button, h, note, replace, setText, table, tableRow, when } from '../dom.js';
import { clearErrors, fieldBlock, readValues, showError, type Field } from '../form.js';
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
const reasons = ['hangup', 'busy', 'no-answer', 'failed', 'transferred', 'rejected', 'answered-elsewhere', 'server-shutdown'];
const historyHead = ['Started', 'From', 'To', 'Direction', 'Talked', 'End', 'MOS', ''];

/** A date input's day (local time) as an RFC 3339 instant, shifted by `days`. */
function dayStart(day: string, days = 0): string {
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + days);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The GET /v1/calls query of the History filters (the server filters). */
export function historyQuery(v: Record<string, string>): string {
  const q = new URLSearchParams({ limit: '50' });
  if (v.user) q.set('user', v.user);
  if (v.direction) q.set('direction', v.direction);
  if (v.reason) q.set('reason', v.reason);
  if (v.from) q.set('from', dayStart(v.from));
  if (v.to) q.set('to', dayStart(v.to, 1)); // the whole "until" day
  return `/v1/calls?${q}`;
}

export const history: Page = {
  id: 'history',
  title: 'History',
  async render(root) {
    const users = await listAll('/v1/users');
    const names = new Map(users.map((u) => [u.id, `${u.name} (${u.extension})`]));
    const fields: Field[] = [
      { name: 'user', label: 'User', type: 'select', options: [['', 'anyone'], ...users.map((u): [string, string] => [u.id, `${u.name} (${u.extension})`])] },
      { name: 'direction', label: 'Direction', type: 'select', options: directions },
      { name: 'reason', label: 'End reason', type: 'select', options: [['', 'any'], ...reasons.map((r): [string, string] => [r, r])] },
      { name: 'from', label: 'From date', type: 'date' },
      { name: 'to', label: 'Until date', type: 'date' },
    ];
    const filters = h('form', { class: 'filters', 'aria-label': 'Filters', role: 'search' },
      fields.map((f) => fieldBlock('hist', f)), h('p', { class: 'form-err', role: 'alert' }));
    const out = h('div', { 'aria-busy': 'false' });
    const detail = h('div', { 'aria-live': 'polite' });
    const row = (c: Json) => tableRow(historyHead, [when(c.started_at),
      c.from_user ? names.get(c.from_user) ?? c.from : party(c.from_name, c.from),
      c.to_user ? names.get(c.to_user) ?? c.to : c.to, c.direction, talked(c), c.end_reason ?? c.status, mosOf(c.legs),
      h('span', { class: 'actions' },
        button('Quality', () => quality(c, detail), { 'aria-label': `Quality of ${c.from} to ${c.to}` }),
        button('Recordings', () => recordings(c, detail), { 'aria-label': `Recordings of ${c.from} to ${c.to}` }))]);
    let gen = 0;
    const show = async () => {
      const mine = ++gen;
      const path = historyQuery(readValues(filters, fields) as Record<string, string>);
      out.setAttribute('aria-busy', 'true');
      let page: Json;
      try {
        page = await api('GET', path);
      } catch (err) {
        if (mine === gen) showError(filters, err);
        return;
      } finally {
        if (mine === gen) out.setAttribute('aria-busy', 'false');
      }
      if (mine !== gen) return; // a newer filter won
      clearErrors(filters);
      if (!page.data.length) {
        replace(out, note('No calls match.'));
        return;
      }
      const tbody = h('tbody', null, (page.data as Json[]).map(row));
      const more = h('div', { class: 'actions' });
      const addMore = (last: Json, hasMore: boolean) => replace(more, hasMore && button('More', async () => {
        const next = await api('GET', `${path}&starting_after=${enc(last.id)}`);
        tbody.append(...(next.data as Json[]).map(row));
        addMore(next.data[next.data.length - 1] ?? last, next.has_more && next.data.length > 0);
      }));
      addMore(page.data[page.data.length - 1], page.has_more);
      replace(out, h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Call history', 'data-testid': 'history-table' },
        h('thead', null, h('tr', null, historyHead.map((c) => h('th', { scope: 'col' }, c)))), tbody)), more);
    };
    filters.addEventListener('change', () => void show());
    filters.addEventListener('submit', (e) => e.preventDefault());
    replace(root, h('h2', null, 'History'), filters, out, detail);
    await show();
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

/** Lists a call's recordings, each with a player that fetches a signed, expiring URL when asked. */
async function recordings(c: Json, out: HTMLElement): Promise<void> {
  try {
    const rec = await api('GET', `/v1/calls/${enc(c.id)}`);
    const list = (rec.recordings ?? []) as Json[];
    replace(out, h('section', { class: 'card', 'data-testid': 'recordings' },
      h('h3', null, `Recordings of ${c.from} → ${c.to}`),
      list.length ? list.map((r) => {
        const slot = h('div');
        const paused = (r.paused_spans as Json[] | null)?.map((p) => `${(p.start_ms / 1000).toFixed(1)}–${(p.end_ms / 1000).toFixed(1)} s`).join(', ');
        return h('div', { class: 'recording' },
          h('p', null, `${when(r.started_at)} · ${(r.duration_ms / 1000).toFixed(1)} s · ${r.status}`, paused ? ` · paused ${paused}` : ''),
          button('Play', async () => {
            const u = await api('GET', `/v1/recordings/${enc(r.id)}/download-url`);
            replace(slot, h('audio', { controls: true, src: u.url, 'data-testid': 'recording-audio' }),
              h('a', { href: u.url, download: `${r.id}.wav` }, 'Download'));
          }, { 'aria-label': `Play recording ${r.id}` }), slot);
      }) : note('No recordings of this call.')));
  } catch (err) {
    replace(out, note((err as Error).message, 'bad'));
  }
}
