import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  ParentClosePolicy,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { foundDivergence } from '../domain/reconcile/digest-walk';
import { databaseBatch } from './profiles';
import { reconcileStartOptions, storeReconcileWorkflow } from './store-reconcile';

const { listReconcileTargets } = proxyActivities<Activities>(databaseBatch);

export interface ReconcileSweepInput {
  chunkSize: number;
  /** Reconciles running at once (each is one store with one peer). */
  concurrency: number;
  httpTimeoutMs?: number;
  /** The node whose reconciles this sweep starts (their ids carry it). */
  nodeId?: string;
  /**
   * Only in sweeps started before ids carried the node id (no nodeId): the prefix of the reconcile
   * ids they started, kept so that they replay.
   */
  idPrefix?: string;
  /** Carried across continue-as-new: pairs up to this `storeId:peerId` are done. */
  after?: string;
  totals?: ReconcileSweepResult;
  /** Test knob, never set in production: continue as new after this many pairs of a run. */
  continueAsNewAfterPairs?: number;
}

export interface ReconcileSweepResult {
  pairs: number;
  reconciled: number;
  /** A reconcile of that store and peer was already running (started by the API or a previous sweep). */
  skipped: number;
  failed: number;
  /** `storeId:peerId` pairs where something was missing or conflicting (at most 100 listed). */
  diverged: string[];
  roundTrips: number;
  bytes: number;
}

const MAX_LISTED = 100;

/**
 * ReconcileSweep: one run per tick of the `reconcile-sweep` schedule (overlap SKIP). Reconciles every
 * store with every peer, a few at a time, under the same fixed workflow ids as the API, so a sweep
 * never runs a second reconcile beside one already running: it skips that pair.
 */
export async function reconcileSweepWorkflow(input: ReconcileSweepInput): Promise<ReconcileSweepResult> {
  const totals: ReconcileSweepResult = input.totals ?? {
    pairs: 0,
    reconciled: 0,
    skipped: 0,
    failed: 0,
    diverged: [],
    roundTrips: 0,
    bytes: 0,
  };
  const { storeIds, peerIds } = await listReconcileTargets();
  const pairs = storeIds
    .flatMap((storeId) => peerIds.map((peerId) => ({ storeId, peerId, key: `${storeId}:${peerId}` })))
    .filter((p) => input.after === undefined || p.key > input.after)
    .sort((a, b) => (a.key < b.key ? -1 : 1));

  let next = 0;
  let stopping = false;
  let lastStarted: string | undefined = input.after;

  async function lane(): Promise<void> {
    while (!stopping && next < pairs.length) {
      const pair = pairs[next++]!;
      lastStarted = pair.key;
      totals.pairs += 1;
      try {
        const child = await startChild(storeReconcileWorkflow, {
          ...reconcileStartOptions(input.nodeId, pair.storeId, pair.peerId, 'sweep', input.idPrefix),
          args: [
            {
              storeId: pair.storeId,
              peerId: pair.peerId,
              chunkSize: input.chunkSize,
              httpTimeoutMs: input.httpTimeoutMs,
            },
          ],
          // A sweep cancelled or timed out lets the reconciles it started finish.
          parentClosePolicy: ParentClosePolicy.ABANDON,
        });
        const r = await child.result();
        totals.reconciled += 1;
        totals.roundTrips += r.roundTrips;
        totals.bytes += r.bytes;
        if (foundDivergence(r) && totals.diverged.length < MAX_LISTED) totals.diverged.push(pair.key);
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          totals.skipped += 1;
          continue;
        }
        totals.failed += 1;
        log.warn('reconcile failed', { store: pair.storeId, peer: pair.peerId, error: String(err) });
      }
      const pairsThisRun = next;
      if (
        workflowInfo().continueAsNewSuggested ||
        pairsThisRun >= (input.continueAsNewAfterPairs ?? Infinity)
      ) {
        stopping = true;
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, input.concurrency) }, () => lane()));
  if (stopping && next < pairs.length) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof reconcileSweepWorkflow>({ ...input, after: lastStarted, totals });
  }
  log.info('reconcile sweep finished', { ...totals, diverged: totals.diverged.length });
  return totals;
}
