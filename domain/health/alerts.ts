import type { FederationHealthReport } from './report';

// Which alerts a health snapshot raises (docs/health.md, "Alerts"): each on the transition into its
// condition (the previous snapshot did not have it), folded for an hour per store and type by the
// alerts table's dedup key. Pure: the monitor activity saves and raises them.

export interface HealthAlert {
  type: HealthAlertType;
  severity: 'P0' | 'P1' | 'P2';
  store_id: string;
  subject: string;
  payload: Record<string, unknown>;
  dedup_key: string;
}

export type HealthAlertType =
  | 'FEDERATION_CRITICAL'
  | 'PROJECTION_GAP_DETECTED'
  | 'OVERSELLING_DETECTED'
  | 'FISCAL_DUPLICATE'
  | 'FEDERATION_OFFLINE'
  | 'DEAD_LETTERS';

interface Rule {
  type: HealthAlertType;
  severity: HealthAlert['severity'];
  /** The findings the alert carries: those of this metric (none: every critical one). */
  metric?: string;
  holds: (r: FederationHealthReport, offlineAfterMs: number) => boolean;
  subject: (r: FederationHealthReport, offlineAfterMs: number) => string;
}

const offlinePeers = (r: FederationHealthReport, offlineAfterMs: number) =>
  r.federation.peers.filter(
    (p) =>
      !p.reachable &&
      p.unreachable_since &&
      Date.parse(r.timestamp) - Date.parse(p.unreachable_since) >= offlineAfterMs,
  );

const RULES: Rule[] = [
  {
    type: 'FISCAL_DUPLICATE',
    metric: 'fiscalDuplicates',
    severity: 'P0',
    holds: (r) => r.fiscal.duplicateNumbers > 0,
    subject: (r) => `${r.fiscal.duplicateNumbers} fiscal numbers issued more than once`,
  },
  {
    type: 'FEDERATION_CRITICAL',
    severity: 'P1',
    holds: (r) => r.overallHealth === 'critical',
    subject: (r) => `federation health is critical (${r.breaches.map((b) => b.key).join(', ')})`,
  },
  {
    type: 'FEDERATION_OFFLINE',
    metric: 'remoteUnreachable',
    severity: 'P1',
    holds: (r, ms) => offlinePeers(r, ms).length > 0,
    subject: (r, ms) =>
      offlinePeers(r, ms)
        .map((p) => `node ${p.peer_id} unreachable since ${p.unreachable_since}`)
        .join('; '),
  },
  {
    type: 'PROJECTION_GAP_DETECTED',
    metric: 'projectionGaps',
    severity: 'P2',
    holds: (r) => r.metrics.projectionGapCount > 0,
    subject: (r) => `${r.metrics.projectionGapCount} events are in the log but not in the read models`,
  },
  {
    type: 'OVERSELLING_DETECTED',
    metric: 'negativeStock',
    severity: 'P2',
    holds: (r) => r.metrics.negativeStockCount > 0,
    subject: (r) => `${r.metrics.negativeStockCount} products are below zero stock`,
  },
  {
    type: 'DEAD_LETTERS',
    metric: 'outboxDead',
    severity: 'P2',
    holds: (r) => r.consistency.outbox.dead > 0,
    subject: (r) => `${r.consistency.outbox.dead} events were refused for good by a peer`,
  },
];

/** The alerts `report` raises given the snapshot before it (null: the first one). */
export function healthAlertsOf(
  report: FederationHealthReport,
  before: FederationHealthReport | null,
  offlineAfterMs: number,
): HealthAlert[] {
  return RULES.filter(
    (rule) => rule.holds(report, offlineAfterMs) && !(before && rule.holds(before, offlineAfterMs)),
  ).map((rule) => ({
    type: rule.type,
    severity: rule.severity,
    store_id: report.storeId,
    subject: rule.subject(report, offlineAfterMs),
    payload: {
      overallHealth: report.overallHealth,
      metrics: report.metrics,
      findings: report.findings
        .filter((f) => f.level === 'critical' || rule.type !== 'FEDERATION_CRITICAL')
        .slice(0, 10),
    },
    dedup_key: `${rule.type}:${report.storeId}`,
  }));
}

/** Carries each unreachable peer's `unreachable_since` over from the previous snapshot. */
export function withOfflineStreaks(
  report: FederationHealthReport,
  before: FederationHealthReport | null,
): FederationHealthReport {
  const since = new Map(
    (before?.federation.peers ?? []).map((p) => [p.peer_id, p.unreachable_since ?? null]),
  );
  return {
    ...report,
    federation: {
      ...report.federation,
      peers: report.federation.peers.map((p) => ({
        ...p,
        unreachable_since: p.reachable ? null : (since.get(p.peer_id) ?? report.timestamp),
      })),
    },
  };
}

/**
 * A saved snapshot's report, or null when it is not one this code can compare with (written by an
 * older version, or by hand): the transition rules then treat the current snapshot as the first.
 */
export function previousReport(saved: unknown): FederationHealthReport | null {
  const r = saved as Partial<FederationHealthReport> | null;
  const ok =
    !!r &&
    typeof r.overallHealth === 'string' &&
    typeof r.timestamp === 'string' &&
    !!r.metrics &&
    !!r.fiscal &&
    !!r.consistency?.outbox &&
    Array.isArray(r.federation?.peers) &&
    Array.isArray(r.breaches);
  return ok ? (r as FederationHealthReport) : null;
}
