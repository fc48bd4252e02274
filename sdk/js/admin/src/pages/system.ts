// Webhooks (endpoints and deliveries) and System (health, metrics, nodes).
import { api, ApiError, enc, type Json } from '../api.js';
import { button, dangerButton, h, note, replace, table, when } from '../dom.js';
import { form } from '../form.js';
import type { Page } from '../page.js';
import { reveal } from './users.js';

const events = ['call.started', 'call.ringing', 'call.answered', 'call.transferred', 'call.ended', 'call.quality',
  'registration.changed', 'presence.changed'];

export const webhooks: Page = {
  id: 'webhooks',
  title: 'Webhooks',
  async render(root, nav) {
    const { data } = await api('GET', '/v1/webhook_endpoints');
    const secret = h('div');
    const deliveries = h('div', { 'aria-live': 'polite' });
    const rows = (data as Json[]).map((e) => [e.url, e.events.join(', '), e.enabled ? 'enabled' : 'disabled',
      h('div', { class: 'inline' },
        button('Deliveries', () => showDeliveries(e, deliveries), { 'aria-label': `Deliveries to ${e.url}` }),
        button(e.enabled ? 'Disable' : 'Enable', async () => {
          await api('PATCH', `/v1/webhook_endpoints/${enc(e.id)}`, { enabled: !e.enabled });
          nav.go('webhooks');
        }),
        dangerButton('Delete', async () => {
          await api('DELETE', `/v1/webhook_endpoints/${enc(e.id)}`);
          nav.go('webhooks');
        }, { 'aria-label': `Delete endpoint ${e.url}` }))]);
    replace(root, h('h2', null, 'Webhooks'),
      data.length ? table('Webhook endpoints', ['URL', 'Events', 'State', ''], rows, 'webhooks-table') : note('No endpoints.'),
      secret, deliveries,
      form({
        title: 'New endpoint', testid: 'webhook-create', submit: 'Add endpoint',
        fields: [
          { name: 'url', label: 'URL', type: 'url', required: true, placeholder: 'https://example.com/hooks' },
          { name: 'events', label: 'Events', type: 'checkboxes', options: events.map((e): [string, string] => [e, e]), value: ['call.ended'] },
          { name: 'enabled', label: 'Enabled', type: 'checkbox', value: true },
        ],
        async onSubmit(v) {
          const e = await api('POST', '/v1/webhook_endpoints', v);
          nav.go('webhooks', () => document.querySelector('main h2')?.after(reveal(`Signing secret of ${e.url}`, e.secret)));
        },
      }));
  },
};

async function showDeliveries(e: Json, out: HTMLElement): Promise<void> {
  try {
    const { data } = await api('GET', `/v1/webhook_endpoints/${enc(e.id)}/deliveries`);
    replace(out, h('section', { class: 'card' }, h('h3', null, `Deliveries to ${e.url}`),
      data.length ? table('Deliveries', ['Created', 'Event', 'Status', 'Attempts', 'Last error', ''],
        (data as Json[]).map((d) => [when(d.created_at), d.type, d.status, String(d.attempts), d.last_error ?? '',
          button('Redeliver', async () => {
            await api('POST', `/v1/webhook_endpoints/${enc(e.id)}/deliveries/${enc(d.id)}/redeliver`);
            void showDeliveries(e, out);
          })])) : note('No deliveries yet.')));
  } catch (err) {
    replace(out, note((err as Error).message, 'bad'));
  }
}

/** The metrics the System page shows, from Prometheus text. */
const shown: [string, string][] = [['switchboard_calls_active', 'Calls up'], ['switchboard_sockets_connected', 'Sockets'],
  ['switchboard_sip_registrations', 'SIP registrations'], ['switchboard_draining', 'Draining'],
  ['process_resident_memory_bytes', 'Memory'], ['go_goroutines', 'Goroutines']];

export function parseMetrics(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !out.has(m[1])) out.set(m[1] + (m[1] === 'go_info' ? (m[2] ?? '') : ''), m[3]);
  }
  return out;
}

export const system: Page = {
  id: 'system',
  title: 'System',
  async render(root) {
    const probe = async (path: string) => {
      try {
        const r = await api('GET', path);
        return r.status ?? 'ok';
      } catch (err) {
        return `${(err as ApiError).status} ${(err as ApiError).code}`;
      }
    };
    const [health, ready, summary] = await Promise.all([probe('/healthz'), probe('/readyz'), systemSummary()]);
    let metrics: HTMLElement;
    try {
      const m = parseMetrics(await api('GET', '/metrics'));
      const goInfo = [...m.keys()].find((k) => k.startsWith('go_info'));
      metrics = table('Metrics', ['Metric', 'Value'], [
        ...shown.filter(([k]) => m.has(k)).map(([k, l]) => [l, k.endsWith('_bytes') ? `${(Number(m.get(k)) / 2 ** 20).toFixed(1)} MiB` : m.get(k)!]),
        goInfo ? ['Go runtime', /version="([^"]+)"/.exec(goInfo)?.[1] ?? ''] : null,
      ].filter((r): r is string[] => r !== null), 'metrics-table');
    } catch (err) {
      metrics = note(`Metrics: ${(err as Error).message}`, 'bad');
    }
    let nodes: HTMLElement;
    try {
      const { data } = await api('GET', '/v1/cluster/nodes');
      nodes = table('Nodes', ['Node', 'Calls', 'CPU', 'Draining', 'HTTP', 'SIP', 'Started', 'Reachable'],
        (data as Json[]).map((n) => [n.node + (n.self ? ' (this)' : ''), `${n.calls}/${n.max_calls || '∞'}`, `${Math.round(n.cpu * 100)} %`,
          n.draining ? 'yes' : 'no', n.http, n.sip, when(n.started_at), n.reachable ? 'yes' : (n.error ?? 'no')]), 'nodes-table');
    } catch (err) {
      nodes = (err as ApiError).code === 'cluster_disabled' ? h('p', null, 'A single node (cluster mode is off).')
        : note(`Nodes: ${(err as Error).message}`, 'bad');
    }
    replace(root, h('h2', null, 'System'), summary,
      table('Health', ['Check', 'Answer'], [['/healthz', health], ['/readyz', ready]], 'health-table'),
      h('h3', null, 'Metrics'), metrics,
      h('h3', null, 'Nodes'), nodes);
  },
};

/** GET /v1/system: version, node, uptime, counts and the config's problems (admin key only). */
async function systemSummary(): Promise<HTMLElement> {
  let s: Json;
  try {
    s = await api('GET', '/v1/system');
  } catch (err) {
    const e = err as ApiError;
    return e.code === 'admin_key_required' ? h('p', { class: 'hint' }, 'The system summary needs the admin key.')
      : note(`System: ${e.message}`, 'bad');
  }
  const problems = (s.config_problems as Json[]);
  return h('div', null,
    table('Server', ['Property', 'Value'], [
      ['Version', s.version], ['Node', s.node_id ?? 'single node'], ['Started', when(s.started_at)],
      ['Uptime', uptime(s.uptime_s)], ['Store', s.store], ['Cluster', s.cluster ? 'on' : 'off'],
      ['Live calls', String(s.counts.live_calls)], ['Sockets', String(s.counts.sockets)],
      ['SIP registrations', String(s.counts.registrations)],
    ], 'system-table'),
    h('h3', null, 'Config problems'),
    problems.length
      ? h('ul', { class: 'problems', 'data-testid': 'config-problems' },
        problems.map((p) => h('li', { 'data-code': p.code }, h('code', null, p.field), ': ', p.message)))
      : note('None: the running config has no known problems.', 'ok'));
}

/** Seconds as "3 d 4 h", "5 h 6 min" or "7 min 8 s". */
export function uptime(sec: number): string {
  const d = Math.floor(sec / 86400), hr = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${m} min`;
  return `${m} min ${s} s`;
}
