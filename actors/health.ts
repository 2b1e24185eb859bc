import type { Client } from '@temporalio/client';
import type { Config, PeerConfig } from '../infra/config';
import type { Db } from '../infra/db';
import { PeerClient, PeerError } from '../infra/peers/peer-client';
import {
  conflictCounts,
  fiscalDuplicates,
  projectionGaps,
  stockCheck,
  unrelayedEvents,
  type Unrelayed,
} from '../infra/repositories/consistency';
import { debtBucketDigests, debtRootDigest, debtStates } from '../infra/repositories/debts';
import { countRangesByStatus } from '../infra/repositories/fiscal-sequence-ranges';
import { latestSelfCheck } from '../infra/repositories/projection-self-checks';
import { openDeadLettersOfStore } from '../infra/repositories/relay-dead-letters';
import { withTimeout } from '../infra/timeout';
import { assess, type MetricValues } from '../domain/health/thresholds';
import {
  describeDebtDifference,
  differingBuckets,
  differingDebts,
  type DebtDifference,
} from '../domain/health/debts';
import { DEBT_BUCKETS_PER_REQUEST, toTuples } from '../domain/wire/peer-protocol';
import type { FederationHealthReport, Finding, PeerHealth, PeerProbe } from '../domain/health/report';

export type { FederationHealthReport } from '../domain/health/report';
import { relayReports, type RelayReport } from './relay-status';

// The federation health of one store, computed from real state: the relay actors (query), the log
// against its projections, stock against its movements, dead letters, workflows in Temporal's
// visibility, and a timed probe of each peer. docs/health.md describes every field.

export const RUNBOOK = 'docs/runbooks/federation-incidents.en.md';
const PROBE_TIMEOUT_MS = 5000;
const VISIBILITY_TIMEOUT_MS = 3000;
/** Workflows that stand in for the seeds' job queue (long-lived lifecycles such as ranges are not work waiting). */
const QUEUE_WORKFLOW_TYPES = ['storeReconcileWorkflow', 'alertDeliveryWorkflow'];

export interface HealthDeps {
  db: Db;
  config: Pick<Config, 'NODE_ID' | 'PEERS'>;
  temporal?: Client;
  /** Defaults to a GET of the peer's liveness route. */
  probe?: (peer: PeerConfig) => Promise<PeerProbe>;
}

/** Debts compared with one peer: those that differ (null: not compared), and buckets left for later. */
interface DebtComparison {
  differing: DebtDifference[] | null;
  bucketsLeftOut: number;
  error: string | null;
}

/**
 * This store's debts against one peer's, narrowing root → bucket → debts (peer route
 * /sync/federation/debts): equal stores cost one request; at most DEBT_BUCKETS_PER_REQUEST differing
 * buckets are compared per report (the rest are counted in bucketsLeftOut). The local digests are
 * computed once per report and shared by every peer.
 */
async function compareDebts(
  db: Db,
  client: PeerClient,
  storeId: string,
  local: { root: ReturnType<typeof debtRootDigest>; buckets: () => ReturnType<typeof debtBucketDigests> },
): Promise<DebtComparison> {
  try {
    const [here, there] = await Promise.all([local.root, client.debts(storeId, 'root')]);
    if (here.count === there.count && here.digest === there.digest)
      return { differing: [], bucketsLeftOut: 0, error: null };
    const [hereBuckets, thereBuckets] = await Promise.all([local.buckets(), client.debts(storeId, 'bucket')]);
    const keys = differingBuckets(toTuples(hereBuckets), thereBuckets.buckets ?? []);
    const asked = keys.slice(0, DEBT_BUCKETS_PER_REQUEST);
    if (asked.length === 0) return { differing: [], bucketsLeftOut: 0, error: null };
    const [hereDebts, thereDebts] = await Promise.all([
      debtStates(db, storeId, asked),
      client.debts(storeId, 'debts', asked),
    ]);
    return {
      differing: differingDebts(hereDebts, thereDebts.debts ?? []),
      bucketsLeftOut: keys.length - asked.length,
      error: null,
    };
  } catch (err) {
    return { differing: null, bucketsLeftOut: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

const CIRCUIT_RANK: Record<string, number> = { CLOSED: 0, HALF_OPEN: 1, UNKNOWN: 2, OPEN: 3 };
const minutesSince = (d: Date | null, now: number) =>
  d ? Math.round((now - d.getTime()) / 6000) / 10 : null;
const link = (section: string) => `${RUNBOOK}#${section}`;

async function defaultProbe(peer: PeerConfig, nodeId: string): Promise<PeerProbe> {
  const started = Date.now();
  try {
    const ms = await new PeerClient(peer, { nodeId, timeoutMs: PROBE_TIMEOUT_MS }).probe();
    return { reachable: true, latencyMs: ms, error: null };
  } catch (err) {
    // A peer that answers, even 503 (its worker is down), is reachable: the relay can still push.
    const answered = err instanceof PeerError && typeof err.status === 'number' && err.status > 0;
    return {
      reachable: answered,
      latencyMs: answered ? Date.now() - started : null,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

async function countWorkflows(temporal: Client | undefined, query: string): Promise<number | null> {
  if (!temporal) return null;
  try {
    const r = await withTimeout(
      temporal.workflow.count(query),
      VISIBILITY_TIMEOUT_MS,
      'visibility count timed out',
    );
    return r.count;
  } catch {
    return null;
  }
}

const TYPE_WORDS: Record<string, string> = {
  SaleCreated: 'sales',
  SaleVoided: 'voids',
  DebtCreated: 'debts',
  DebtPaymentRecorded: 'debt payments',
  DebtPaymentAdded: 'debt payments',
  CashSessionOpened: 'cash session openings',
  CashSessionClosed: 'cash session closings',
};

function lagFindings(peerId: string, rows: Unrelayed[], now: number, level: Finding['level']): Finding[] {
  return rows.slice(0, 10).map((r) => ({
    level,
    metric: 'eventLag',
    message:
      `${r.count} ${TYPE_WORDS[r.type] ?? `${r.type} events`} from device ${r.device_id} ` +
      `(oldest ${minutesSince(r.oldest_received_at, now)} min) are not yet on node ${peerId}`,
    ids: { peer_id: peerId, device_id: r.device_id, type: r.type, count: r.count },
    runbook: link('relay-lag'),
  }));
}

/** The health report of one store. */
export async function buildHealthReport(deps: HealthDeps, storeId: string): Promise<FederationHealthReport> {
  const { db, config, temporal } = deps;
  const now = Date.now();
  const unmeasured: string[] = [];
  const probe = deps.probe ?? ((p: PeerConfig) => defaultProbe(p, config.NODE_ID));
  const dayAgo = new Date(now - 86_400_000).toISOString();
  // Debts are compared only with peers, and the local bucket digests only when a root differs.
  let localBuckets: ReturnType<typeof debtBucketDigests> | undefined;
  const localDebts = config.PEERS.length
    ? {
        root: debtRootDigest(db, storeId),
        buckets: () => (localBuckets ??= debtBucketDigests(db, storeId)),
      }
    : undefined;
  const [relays, probes, debts, gaps, stock, conflicts, fiscal, letters, failed, running, selfCheck, ranges] =
    await Promise.all([
      relayReports(temporal, db, config),
      Promise.all(config.PEERS.map((p) => probe(p))),
      Promise.all(
        config.PEERS.map((p) =>
          compareDebts(
            db,
            new PeerClient(p, { nodeId: config.NODE_ID, timeoutMs: PROBE_TIMEOUT_MS }),
            storeId,
            localDebts!,
          ),
        ),
      ),
      projectionGaps(db, storeId),
      stockCheck(db, storeId),
      conflictCounts(db, storeId),
      fiscalDuplicates(db, storeId),
      openDeadLettersOfStore(db, storeId),
      countWorkflows(
        temporal,
        `StoreId = '${storeId}' AND ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated') AND CloseTime > '${dayAgo}'`,
      ),
      countWorkflows(
        temporal,
        `StoreId = '${storeId}' AND ExecutionStatus = 'Running' AND WorkflowType IN (${QUEUE_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`,
      ),
      latestSelfCheck(db, storeId),
      countRangesByStatus(db, storeId),
    ]);
  if (failed === null || running === null) unmeasured.push('workflows (Temporal visibility did not answer)');

  const peers: (PeerHealth & { unrelayed: Unrelayed[]; report: RelayReport; debt: DebtComparison })[] =
    await Promise.all(
      relays.map(async (r, i) => {
        const cursor = r.status?.cursor ?? null;
        if (cursor === null) unmeasured.push(`relay to ${r.peer.id} (${r.error ?? 'no status'})`);
        const unrelayed = cursor === null ? [] : await unrelayedEvents(db, storeId, r.peer.id, cursor);
        const lag = unrelayed.reduce((n, u) => n + u.count, 0);
        const oldest = unrelayed.reduce<Date | null>(
          (o, u) => (o === null || u.oldest_received_at < o ? u.oldest_received_at : o),
          null,
        );
        const debt = debts[i]!;
        if (debt.error !== null && probes[i]!.reachable)
          unmeasured.push(`debts against ${r.peer.id} (${debt.error})`);
        return {
          peer_id: r.peer.id,
          reachable: probes[i]!.reachable,
          latency_ms: probes[i]!.latencyMs,
          circuit_state: r.status?.circuit.state ?? 'UNKNOWN',
          lag_events: cursor === null ? null : lag,
          oldest_minutes: minutesSince(oldest, now),
          dead_letters: letters.get(r.peer.id) ?? 0,
          error: probes[i]!.error ?? r.error,
          unrelayed,
          report: r,
          debt,
        };
      }),
    );

  const worstLag = Math.max(0, ...peers.map((p) => p.lag_events ?? 0));
  const backlog = peers.reduce((n, p) => n + (p.lag_events ?? 0), 0);
  const dead = [...letters.values()].reduce((n, x) => n + x, 0);
  const unreachable = peers.filter((p) => !p.reachable);
  const latency = peers.some((p) => p.latency_ms !== null)
    ? Math.max(...peers.map((p) => p.latency_ms ?? 0))
    : null;
  const circuit = peers.reduce(
    (worst, p) =>
      (CIRCUIT_RANK[p.circuit_state] ?? 0) > (CIRCUIT_RANK[worst] ?? 0) ? p.circuit_state : worst,
    'CLOSED',
  );
  const oldestLag = Math.max(0, ...peers.map((p) => p.oldest_minutes ?? 0));

  const values: MetricValues = {
    eventLag: worstLag,
    projectionGapsSales: gaps.sales,
    projectionGapsDebts: gaps.debts,
    stockDivergence: stock.divergentCount,
    negativeStock: stock.negativeCount,
    outboxBacklog: backlog,
    outboxDead: dead,
    queueDepth: running ?? 0,
    failedJobs: failed ?? 0,
    remoteUnreachable: unreachable.length,
    remoteLatencyMs: latency ?? 0,
    fiscalDuplicates: fiscal.count,
    conflictRate: conflicts.lastHour,
    selfCheckDifferences: selfCheck?.differences ?? 0,
  };
  const assessment = assess(values);
  const levelOf = (key: keyof MetricValues): Finding['level'] =>
    assessment.levels[key] === 'critical' ? 'critical' : 'warning';

  const findings: Finding[] = [];
  for (const p of peers) {
    if (!p.reachable)
      findings.push({
        level: 'critical',
        metric: 'remoteUnreachable',
        message: `node ${p.peer_id} does not answer (${p.error ?? 'no answer'}); sales keep being taken and wait here`,
        ids: { peer_id: p.peer_id },
        runbook: link('remote-unreachable'),
      });
    if (p.circuit_state === 'OPEN')
      findings.push({
        level: 'critical',
        metric: 'circuit',
        message: `the relay to ${p.peer_id} has stopped trying for now (circuit OPEN): ${p.report.status?.circuit.lastError ?? ''}`,
        ids: { peer_id: p.peer_id, workflow_id: p.report.workflowId },
        runbook: link('circuit-open'),
      });
    if ((p.lag_events ?? 0) > 0 && assessment.levels.eventLag !== 'ok')
      findings.push(...lagFindings(p.peer_id, p.unrelayed, now, levelOf('eventLag')));
    if (p.dead_letters > 0)
      findings.push({
        level: levelOf('outboxDead'),
        metric: 'outboxDead',
        message: `${p.dead_letters} events of this store were refused for good by node ${p.peer_id} and wait for an operator`,
        ids: { peer_id: p.peer_id, count: p.dead_letters },
        runbook: link('dead-letters'),
      });
  }
  for (const p of peers) {
    for (const d of (p.debt.differing ?? []).slice(0, 10))
      findings.push({
        level: 'warning',
        metric: 'debtDivergence',
        message:
          describeDebtDifference(d, config.NODE_ID, p.peer_id) +
          ((p.lag_events ?? 0) > 0
            ? ` (${p.lag_events} events of this store are not yet relayed to ${p.peer_id}: it may converge by itself)`
            : ''),
        ids: {
          store_id: storeId,
          customer_id: d.customer_id ?? '',
          debt_id: d.debt_id,
          node_id: config.NODE_ID,
          peer_id: p.peer_id,
          remaining_here: d.here?.remaining_amount ?? '',
          remaining_there: d.there?.remaining_amount ?? '',
          payments_here: d.here?.payments ?? 0,
          payments_there: d.there?.payments ?? 0,
        },
        runbook: link('debt-divergence'),
      });
  }
  for (const e of gaps.examples)
    findings.push({
      level: levelOf(e.type === 'DebtCreated' ? 'projectionGapsDebts' : 'projectionGapsSales'),
      metric: 'projectionGaps',
      message: `${e.type} ${e.event_id} from device ${e.device_id} (received ${minutesSince(e.received_at, now)} min ago) is in the log but not in the read model`,
      ids: { event_id: e.event_id, type: e.type, device_id: e.device_id },
      runbook: link('projection-gaps'),
    });
  for (const n of stock.negative.slice(0, 10))
    findings.push({
      level: levelOf('negativeStock'),
      metric: 'negativeStock',
      message: `product ${n.product_id} is at ${Number(n.stock)} in warehouse ${n.warehouse_id}`,
      ids: { product_id: n.product_id, warehouse_id: n.warehouse_id },
      runbook: link('negative-stock'),
    });
  for (const d of stock.divergent.slice(0, 10))
    findings.push({
      level: levelOf('stockDivergence'),
      metric: 'stockDivergence',
      message: `stock of product ${d.product_id} in warehouse ${d.warehouse_id} is ${Number(d.stock)}, but its movements add up to ${Number(d.movements)}`,
      ids: { product_id: d.product_id, warehouse_id: d.warehouse_id },
      runbook: link('stock-divergence'),
    });
  for (const f of fiscal.examples.slice(0, 10))
    findings.push({
      level: 'critical',
      metric: 'fiscalDuplicates',
      message: `invoice number ${f.fiscal_number} of series ${f.invoice_series_id} was issued ${f.sale_ids.length} times (sales ${f.sale_ids.join(', ')})`,
      ids: { invoice_series_id: f.invoice_series_id, fiscal_number: f.fiscal_number, sale_ids: f.sale_ids },
      runbook: link('fiscal-duplicates'),
    });
  if (assessment.levels.conflictRate !== 'ok')
    findings.push({
      level: levelOf('conflictRate'),
      metric: 'conflictRate',
      message: `${conflicts.lastHour} concurrent edits were decided by last-writer-wins in the last hour`,
      ids: { count: conflicts.lastHour },
      runbook: link('conflicts'),
    });
  if ((failed ?? 0) > 0)
    findings.push({
      level: levelOf('failedJobs'),
      metric: 'failedJobs',
      message: `${failed} workflows of this store failed in the last 24 h (Temporal UI: StoreId = "${storeId}")`,
      ids: { count: failed ?? 0 },
      runbook: link('stuck-workflows'),
    });
  if (selfCheck && selfCheck.differences > 0)
    findings.push({
      level: levelOf('selfCheckDifferences'),
      metric: 'selfCheckDifferences',
      message: `${selfCheck.differences} read-model rows differed from a rebuild from the event log at the self-check of ${selfCheck.checked_at.toISOString()}`,
      ids: { tables: (selfCheck.details as { table: string }[]).map((t) => t.table) },
      runbook: link('self-check'),
    });
  findings.sort((a, b) => (a.level === b.level ? 0 : a.level === 'critical' ? -1 : 1));

  return {
    timestamp: new Date(now).toISOString(),
    storeId,
    overallHealth: assessment.overall,
    metrics: {
      eventLagCount: worstLag,
      projectionGapCount: gaps.sales + gaps.debts + gaps.debtPayments + gaps.sessions + gaps.unprojectedOther,
      stockDivergenceCount: stock.divergentCount,
      negativeStockCount: stock.negativeCount,
      queueDepth: running ?? 0,
      failedJobs: failed ?? 0,
      remoteReachable: unreachable.length === 0,
      remoteLatencyMs: latency,
      circuitBreakerState: circuit,
    },
    levels: assessment.levels,
    breaches: assessment.breaches,
    federation: {
      enabled: config.PEERS.length > 0,
      remoteReachable: unreachable.length === 0,
      latencyMs: latency,
      queueDepth: running ?? 0,
      failedJobs: failed ?? 0,
      circuitBreakerState: circuit,
      peers: peers.map(({ unrelayed: _u, report: _r, debt: _d, ...p }) => p),
    },
    consistency: {
      eventLag: { count: worstLag, oldestMinutes: worstLag > 0 ? oldestLag : null },
      projectionGaps: {
        sales: gaps.sales,
        debts: gaps.debts,
        debtPayments: gaps.debtPayments,
        sessions: gaps.sessions,
        unprojected: gaps.unprojected,
        unprojectedOther: gaps.unprojectedOther,
      },
      stockDivergence: { divergent: stock.divergentCount, negative: stock.negativeCount },
      debtDivergence: {
        differing: peers.reduce((n, p) => n + (p.debt.differing?.length ?? 0), 0),
        peers: peers.map((p) => ({
          peer_id: p.peer_id,
          differing: p.debt.differing?.length ?? null,
          bucketsLeftOut: p.debt.bucketsLeftOut,
        })),
      },
      outbox: {
        pending: backlog,
        dead,
        avgProcessingMs: null,
        note: 'no outbox table: pending = events of the store not yet relayed, summed over peers; dead = open relay dead letters',
      },
      selfCheck: selfCheck
        ? {
            checked_at: selfCheck.checked_at.toISOString(),
            events: selfCheck.events,
            differences: selfCheck.differences,
          }
        : null,
    },
    conflicts: { ...conflicts, unresolved: 0 },
    fiscal: {
      activeRanges: ranges.active ?? 0,
      exhaustedRanges: ranges.exhausted ?? 0,
      expiredRanges: ranges.expired ?? 0,
      duplicateNumbers: fiscal.count,
    },
    findings,
    unmeasured,
  };
}
