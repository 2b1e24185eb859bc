import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import type { Activities, RangeRepair } from '../../activities';
import { FULL_RANGE, nextStep, UNRESOLVED_LIST_MAX, type KeyRange } from '../../domain/erp/bisection';
import type { ReconcileType } from '../../domain/erp/schemas';
import { databaseBatch, erpReconcileStep } from '../profiles';
import { ErpVendorIdKey } from '../search-keys';
import { erpReconcileWorkflowId } from './ids';

export interface VendorReconcileInput {
  vendorId: string;
  trigger: 'api' | 'schedule';
  types?: ReconcileType[];
  /** A range of at most this many records is compared record by record (the seed: 10). */
  leafSize: number;
  agentTimeoutMs: number;
  /** The trigger request's X-Correlation-ID, sent on every agent call and logged (else one per run). */
  correlationId?: string;
  /**
   * Continue as new after this many steps (a checksum compare or a leaf repair, one activity each)
   * in one run; Temporal's own suggestion (history near its limit) always counts too.
   */
  continueAsNewAfterSteps?: number;
  /** Where the previous run stopped: set by continue-as-new only. */
  carried?: CarriedReconcile;
}

/** A run's hand-over: the types not yet done, the ranges still to compare, the summary so far. */
export interface CarriedReconcile {
  /** The index in the types list of the type under way. */
  typeIndex: number;
  pending: KeyRange[];
  summary: Partial<Record<ReconcileType, TypeSummary>>;
  startedAt: number;
  correlationId: string;
  runs: number;
}

export interface TypeSummary {
  checksumCalls: number;
  leaves: number;
  checked: number;
  missingHere: number;
  differing: number;
  extraHere: number;
  fixed: number;
  /** The first UNRESOLVED_LIST_MAX unresolved records; `unresolvedCount` counts them all. */
  unresolved: { key: string; reason: string }[];
  unresolvedCount: number;
}

export interface VendorReconcileSummary {
  vendorId: string;
  inSync: boolean;
  types: Partial<Record<ReconcileType, TypeSummary>>;
  durationMs: number;
  eventId: string;
  /** Runs of the workflow id this reconcile took (continue-as-new hands over to a new run). */
  runs: number;
}

export const reconcileSummaryQuery = defineQuery<Partial<Record<ReconcileType, TypeSummary>>>('summary');

export function vendorReconcileStartOptions(vendorId: string, trigger: VendorReconcileInput['trigger']) {
  const typedSearchAttributes: SearchAttributePair[] = [{ key: ErpVendorIdKey, value: vendorId }];
  return {
    workflowId: erpReconcileWorkflowId(vendorId),
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    typedSearchAttributes,
    memo: { role: 'VendorReconcile', vendor: vendorId, trigger },
  };
}

const emptySummary = (): TypeSummary => ({
  checksumCalls: 0,
  leaves: 0,
  checked: 0,
  missingHere: 0,
  differing: 0,
  extraHere: 0,
  fixed: 0,
  unresolved: [],
  unresolvedCount: 0,
});

function addRepair(s: TypeSummary, r: RangeRepair) {
  s.leaves += 1;
  s.checked += r.checked;
  s.missingHere += r.missingHere;
  s.differing += r.differing;
  s.extraHere += r.extraHere;
  s.fixed += r.fixed;
  // Results recorded before the count existed carry the list only.
  s.unresolvedCount = (s.unresolvedCount ?? 0) + (r.unresolvedCount ?? r.unresolved.length);
  s.unresolved.push(...r.unresolved.slice(0, Math.max(0, UNRESOLVED_LIST_MAX - s.unresolved.length)));
}

/**
 * VendorReconcile (`erp-reconcile:{vendorId}`, the id is the lock): finds drift between the ERP and
 * this node by checksum bisection (domain/erp/bisection.ts) for items and stock, repairs each
 * drifted leaf with the ERP's records, and logs one reconciliation_events row with the summary and
 * the duration. Its cost follows the drift: an equal type costs one checksum call.
 */
export async function vendorReconcileWorkflow(input: VendorReconcileInput): Promise<VendorReconcileSummary> {
  const { erpCompareRange, erpRepairRange } = proxyActivities<Activities>(
    erpReconcileStep(input.agentTimeoutMs),
  );
  const { erpRecordReconciliation } = proxyActivities<Activities>(databaseBatch);
  const carried = input.carried;
  const started = carried?.startedAt ?? Date.now();
  const correlationId = carried?.correlationId ?? input.correlationId ?? `reconcile:${workflowInfo().runId}`;
  const summary: Partial<Record<ReconcileType, TypeSummary>> = carried?.summary ?? {};
  setHandler(reconcileSummaryQuery, () => summary);

  // Each step is about six history events: a drifted type of thousands of records would pass
  // Temporal's history limit in one run, so the walk hands its stack of ranges to a new run.
  const types = input.types ?? (['items', 'stock'] as const);
  const stepLimit = input.continueAsNewAfterSteps ?? Infinity;
  let steps = 0;
  let handOver: CarriedReconcile | null = null;
  let failure: string | null = null;
  try {
    walk: for (let t = carried?.typeIndex ?? 0; t < types.length; t++) {
      const type = types[t]!;
      const resumed = carried !== undefined && t === carried.typeIndex;
      const s = resumed ? summary[type]! : (summary[type] = emptySummary());
      const pending: KeyRange[] = resumed ? [...carried.pending] : [FULL_RANGE];
      while (pending.length > 0) {
        if (steps > 0 && (steps >= stepLimit || workflowInfo().continueAsNewSuggested)) {
          handOver = {
            typeIndex: t,
            pending,
            summary,
            startedAt: started,
            correlationId,
            runs: (carried?.runs ?? 1) + 1,
          };
          break walk;
        }
        const range = pending.pop()!;
        const step = { vendorId: input.vendorId, type, range, correlationId };
        s.checksumCalls += 1;
        steps += 1;
        const next = nextStep(await erpCompareRange(step), input.leafSize);
        if (next.kind === 'split') pending.push(...next.halves);
        else if (next.kind === 'leaf') {
          steps += 1;
          addRepair(s, await erpRepairRange(step));
        }
      }
    }
  } catch (err) {
    let cause: unknown = err;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    failure = cause instanceof Error ? cause.message : String(cause);
  }
  // Outside the try: continue-as-new is thrown, and must not be recorded as a failure.
  if (handOver && !failure) {
    return continueAsNew<typeof vendorReconcileWorkflow>({ ...input, carried: handOver });
  }

  const all = Object.values(summary);
  const drifted = all.some((s) => s.leaves > 0);
  const unresolved = all.some((s) => s.unresolved.length > 0);
  const eventType = failure
    ? 'failed'
    : !drifted
      ? 'in_sync'
      : unresolved
        ? 'drift_unresolved'
        : 'drift_resolved';
  const durationMs = Date.now() - started;
  const eventId = await erpRecordReconciliation({
    vendorId: input.vendorId,
    trigger: input.trigger,
    eventType,
    summary: { ...summary, ...(failure ? { error: failure } : {}) },
    durationMs,
  });
  if (failure) {
    throw ApplicationFailure.create({ type: 'RECONCILE_FAILED', message: failure, nonRetryable: true });
  }
  return {
    vendorId: input.vendorId,
    inSync: !drifted,
    types: summary,
    durationMs,
    eventId,
    runs: carried?.runs ?? 1,
  };
}

export interface ErpReconcileSweepInput {
  leafSize: number;
  agentTimeoutMs: number;
}

/**
 * The hourly drift detection (a Temporal Schedule starts it): one VendorReconcile per active vendor,
 * as children. A vendor whose reconcile is already running (an admin started one) is skipped.
 */
export async function erpReconcileSweepWorkflow(
  input: ErpReconcileSweepInput,
): Promise<{ started: string[]; skipped: string[]; failed: string[] }> {
  const { erpActiveVendors } = proxyActivities<Activities>(databaseBatch);
  const started: string[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  const children = [];
  for (const vendorId of await erpActiveVendors()) {
    try {
      const child = await startChild(vendorReconcileWorkflow, {
        ...vendorReconcileStartOptions(vendorId, 'schedule'),
        args: [
          { vendorId, trigger: 'schedule', leafSize: input.leafSize, agentTimeoutMs: input.agentTimeoutMs },
        ],
      });
      started.push(vendorId);
      children.push(child.result().catch(() => failed.push(vendorId)));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      skipped.push(vendorId);
    }
  }
  await Promise.all(children);
  return { started, skipped, failed };
}
