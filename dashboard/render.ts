import type { FederationHealthReport, Finding } from '../domain/health/report';
import { METRICS } from '../domain/health/thresholds';
import type { AlertRow, PeerStatus } from './node-api';

// DOM builders for the dashboard's sections. Every value from the node goes in as text
// (textContent), never as markup: a product or store name cannot inject anything.

type Cell = string | Node;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Cell[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export const badge = (value: string, testid?: string) =>
  el('span', { class: `badge ${value}`, ...(testid ? { 'data-testid': testid } : {}) }, value);

function table(target: HTMLTableElement, head: string[], rows: Cell[][]) {
  target.replaceChildren(
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
  );
}

/** `docs/runbooks/<file>.md#section` → the runbook page the node serves, in English and Spanish. */
export function runbookLinks(ref: string): HTMLAnchorElement[] {
  const m = /^docs\/runbooks\/(federation-incidents)(\.en)?\.md#([a-z0-9-]+)$/.exec(ref);
  if (!m) return [];
  const [, name, , section] = m;
  return [
    el(
      'a',
      { href: `/dashboard/runbooks/${name}.en.html#${section}`, target: '_blank', rel: 'noopener' },
      'runbook',
    ),
    el(
      'a',
      { href: `/dashboard/runbooks/${name}.html#${section}`, target: '_blank', rel: 'noopener' },
      '(es)',
    ),
  ];
}

function finding(f: Finding): HTMLLIElement {
  return el(
    'li',
    { 'data-testid': 'finding', 'data-metric': f.metric },
    badge(f.level),
    ' ',
    f.message,
    ...runbookLinks(f.runbook),
  );
}

const METRIC_LABELS: Record<string, string> = {
  eventLagCount: 'Events not yet relayed',
  projectionGapCount: 'Projection gaps',
  stockDivergenceCount: 'Stock divergence',
  negativeStockCount: 'Negative stock',
  queueDepth: 'Queue depth (running workflows)',
  failedJobs: 'Failed workflows (24 h)',
  remoteReachable: 'Peers reachable',
  remoteLatencyMs: 'Slowest peer probe (ms)',
  circuitBreakerState: 'Circuit breaker',
};

export function renderHealth(report: FederationHealthReport, $: (id: string) => HTMLElement) {
  const overall = $('overall');
  overall.textContent = report.overallHealth;
  overall.className = `badge ${report.overallHealth}`;
  $('health-time').textContent = `measured ${new Date(report.timestamp).toLocaleTimeString()}`;
  const findings = report.findings.map(finding);
  $('findings').replaceChildren(
    ...(findings.length > 0
      ? findings
      : [el('li', {}, 'Nothing to report: every metric is under its threshold.')]),
  );
  const unmeasured = $('unmeasured');
  unmeasured.hidden = report.unmeasured.length === 0;
  unmeasured.textContent = `Not measured (reported as 0): ${report.unmeasured.join('; ')}`;
  table(
    $('metrics') as HTMLTableElement,
    ['Metric', 'Value'],
    Object.entries(report.metrics).map(([k, v]) => [
      el('span', { title: k }, METRIC_LABELS[k] ?? k),
      el('span', { 'data-testid': `metric-${k}` }, v === null ? '—' : String(v)),
    ]),
  );
  const levels = report.levels as Record<string, string>;
  table(
    $('levels') as HTMLTableElement,
    ['Metric', 'Level', 'Warning / critical above'],
    METRICS.filter((m) => levels[m.key] !== undefined).map((m) => [
      el('span', { title: m.meaning }, m.key),
      badge(levels[m.key]!, `level-${m.key}`),
      `${m.warning} / ${m.critical}`,
    ]),
  );
}

const age = (seconds: number | null) =>
  seconds === null ? '—' : seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;

export function renderRelays(
  target: HTMLTableElement,
  peers: PeerStatus[],
  report: FederationHealthReport | null,
): void {
  const storePeers = new Map((report?.federation.peers ?? []).map((p) => [p.peer_id, p]));
  table(
    target,
    [
      'Peer',
      'Relay',
      'Circuit',
      'Not yet relayed (node)',
      'Oldest',
      'This store',
      'Dead letters',
      'Last error',
    ],
    peers.map((p) => {
      const mine = storePeers.get(p.peer_id);
      return [
        el('span', { title: p.url }, p.peer_id),
        p.running ? (p.paused ? 'paused' : 'running') : 'not answering',
        badge(p.circuit.state, `circuit-${p.peer_id}`),
        p.lag.events === null ? '—' : String(p.lag.events),
        age(p.lag.oldest_age_seconds),
        mine
          ? `${mine.lag_events ?? '—'} events${mine.reachable ? '' : ', unreachable'}${
              mine.latency_ms === null ? '' : `, ${mine.latency_ms} ms`
            }`
          : '—',
        String(p.dead_letters_open),
        p.circuit.last_error ?? p.error ?? '',
      ];
    }),
  );
}

export function renderAlerts(
  target: HTMLTableElement,
  alerts: AlertRow[],
  onAcknowledge: (alert: AlertRow, button: HTMLButtonElement) => void,
): void {
  table(
    target,
    ['When', 'Severity', 'Type', 'What', 'Times', 'Status', ''],
    alerts.map((a) => {
      let action: Cell = '';
      if (a.status === 'open') {
        const button = el('button', { type: 'button', 'data-testid': `ack-${a.id}` }, 'Acknowledge');
        button.addEventListener('click', () => onAcknowledge(a, button));
        action = button;
      }
      return [
        new Date(a.last_seen_at).toLocaleString(),
        a.severity,
        a.type,
        a.subject,
        String(a.occurrences),
        el('span', { 'data-testid': `alert-status-${a.id}` }, a.status),
        action,
      ];
    }),
  );
}
