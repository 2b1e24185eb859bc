// The federation health metrics and their thresholds: the table of docs/health.md (from the split-brain
// monitor's specification), with what stands in for the seeds' outbox and job queue in this design.
// Pure: the report builder measures, this decides.

export type Level = 'ok' | 'warning' | 'critical';
export type OverallHealth = 'healthy' | 'degraded' | 'critical';

export interface MetricDefinition {
  /** Key in the report's `metrics.levels` and in docs/health.md. */
  key: MetricKey;
  /** What is measured, in this node's terms. */
  meaning: string;
  /** A value above this is a warning (for booleans: `false` is the bad value, see `bad`). */
  warning: number;
  critical: number;
  /** Runbook section an operator opens (docs/runbooks/federation-incidents.en.md#…). */
  runbook: string;
}

export type MetricKey =
  | 'eventLag'
  | 'projectionGapsSales'
  | 'projectionGapsDebts'
  | 'stockDivergence'
  | 'negativeStock'
  | 'outboxBacklog'
  | 'outboxDead'
  | 'queueDepth'
  | 'failedJobs'
  | 'remoteUnreachable'
  | 'remoteLatencyMs'
  | 'fiscalDuplicates'
  | 'conflictRate'
  | 'selfCheckDifferences';

export const METRICS: readonly MetricDefinition[] = [
  {
    key: 'eventLag',
    meaning: 'events of the store not yet relayed to the peer furthest behind',
    warning: 20,
    critical: 100,
    runbook: 'relay-lag',
  },
  {
    key: 'projectionGapsSales',
    meaning: 'SaleCreated events without a row in sales',
    warning: 0,
    critical: 10,
    runbook: 'projection-gaps',
  },
  {
    key: 'projectionGapsDebts',
    meaning: 'DebtCreated events without a row in debts',
    warning: 0,
    critical: 5,
    runbook: 'projection-gaps',
  },
  {
    key: 'stockDivergence',
    meaning: 'product and warehouse pairs whose stock differs from the sum of their movements',
    warning: 5,
    critical: 20,
    runbook: 'stock-divergence',
  },
  {
    key: 'negativeStock',
    meaning: 'product and warehouse pairs with stock below zero',
    warning: 0,
    critical: 5,
    runbook: 'negative-stock',
  },
  {
    key: 'outboxBacklog',
    meaning: 'no outbox table here: events of the store waiting for any peer relay, summed over peers',
    warning: 10,
    critical: 50,
    runbook: 'relay-lag',
  },
  {
    key: 'outboxDead',
    meaning: "no outbox table here: the store's open relay dead letters (events a peer refused for good)",
    warning: 0,
    critical: 5,
    runbook: 'dead-letters',
  },
  {
    key: 'queueDepth',
    meaning: 'no job queue here: running workflows of the store (reconciles, alert deliveries)',
    warning: 50,
    critical: 200,
    runbook: 'stuck-workflows',
  },
  {
    key: 'failedJobs',
    meaning: 'workflows of the store that failed, timed out or were terminated in the last 24 h',
    warning: 0,
    critical: 10,
    runbook: 'stuck-workflows',
  },
  {
    key: 'remoteUnreachable',
    meaning: 'peers that did not answer the probe (the seeds: unreachable is critical at once)',
    warning: 0,
    critical: 0,
    runbook: 'remote-unreachable',
  },
  {
    key: 'remoteLatencyMs',
    meaning: "the slowest peer's probe round trip, in ms",
    warning: 2000,
    critical: 5000,
    runbook: 'remote-unreachable',
  },
  {
    key: 'fiscalDuplicates',
    meaning: 'fiscal numbers issued more than once in a series of the store',
    warning: 0,
    critical: 0,
    runbook: 'fiscal-duplicates',
  },
  {
    key: 'conflictRate',
    meaning: 'conflict audit rows written for the store in the last hour',
    warning: 10,
    critical: 50,
    runbook: 'conflicts',
  },
  {
    key: 'selfCheckDifferences',
    meaning: 'read-model rows that differed from a rebuild from the event log at the latest self-check',
    warning: 0,
    critical: 10,
    runbook: 'self-check',
  },
];

export type MetricValues = Record<MetricKey, number>;

/** A value's level: above `critical` is critical, above `warning` a warning. */
export function levelOf(definition: MetricDefinition, value: number): Level {
  if (value > definition.critical) return 'critical';
  if (value > definition.warning) return 'warning';
  return 'ok';
}

export interface Assessment {
  overall: OverallHealth;
  levels: Record<MetricKey, Level>;
  /** The metrics at warning or worse, worst first. */
  breaches: { key: MetricKey; level: Exclude<Level, 'ok'>; value: number; runbook: string }[];
}

/** healthy: every metric under its warning threshold; degraded: one at warning; critical: one at critical. */
export function assess(values: MetricValues): Assessment {
  const levels = {} as Record<MetricKey, Level>;
  const breaches: Assessment['breaches'] = [];
  for (const m of METRICS) {
    const level = levelOf(m, values[m.key]);
    levels[m.key] = level;
    if (level !== 'ok') breaches.push({ key: m.key, level, value: values[m.key], runbook: m.runbook });
  }
  breaches.sort((a, b) => (a.level === b.level ? 0 : a.level === 'critical' ? -1 : 1));
  const overall: OverallHealth = breaches.some((b) => b.level === 'critical')
    ? 'critical'
    : breaches.length > 0
      ? 'degraded'
      : 'healthy';
  return { overall, levels, breaches };
}

const RANK: Record<OverallHealth, number> = { healthy: 0, degraded: 1, critical: 2 };

/** True when health got worse between two reports (healthy → degraded, degraded → critical, …). */
export const worsened = (before: OverallHealth | null, after: OverallHealth): boolean =>
  RANK[after] > RANK[before ?? 'healthy'];
