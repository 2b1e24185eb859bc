import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  addConflicts,
  addTally,
  addTraffic,
  emptyResult,
  type ReconcileResult,
  type WalkOptions,
} from '../domain/reconcile/digest-walk';
import { chunk } from '../domain/chunk';
import { legacyReconcileWorkflowId, reconcileWorkflowId } from './ids';
import { PeerIdKey, StoreIdKey } from './search-keys';
import { reconcileStep } from './profiles';

const { diffWithPeer, pullFromPeer, pushToPeer } = proxyActivities<Activities>(reconcileStep);

export interface StoreReconcileInput {
  storeId: string;
  peerId: string;
  /** Event ids per pull or push activity (each chunk is retried on its own). */
  chunkSize: number;
  httpTimeoutMs?: number;
  /** Tuning of the digest walk (tests and benchmarks). */
  walk?: Partial<WalkOptions>;
  /** A walk stops after walk.maxIds differing ids; the store is then walked again, up to this many times. */
  maxRounds?: number;
  /** Carried across continue-as-new. */
  carried?: { result: ReconcileResult; rounds: number };
  /** Test knob, never set in production: continue as new after this many rounds of a run. */
  continueAsNewAfterRounds?: number;
}

export type ReconcilePhase = 'diff' | 'pull' | 'push' | 'done';

export interface ReconcileProgress {
  storeId: string;
  peerId: string;
  phase: ReconcilePhase;
  round: number;
  toPull: number;
  pulled: number;
  toPush: number;
  pushed: number;
  result: ReconcileResult;
}

/** Where a running reconcile is, and what it found so far (also readable in the Temporal UI). */
export const progressQuery = defineQuery<ReconcileProgress>('progress');

export type ReconcileTrigger = 'api' | 'sweep';

/**
 * Start options shared by the API (client start) and ReconcileSweep (child start). The id carries
 * the node (reconcileWorkflowId); `nodeId` undefined is only a sweep started by an older node,
 * which keeps starting the ids it started with (legacyIdPrefix) so that it replays.
 */
export function reconcileStartOptions(
  nodeId: string | undefined,
  storeId: string,
  peerId: string,
  trigger: ReconcileTrigger,
  legacyIdPrefix = '',
) {
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: StoreIdKey, value: storeId },
    { key: PeerIdKey, value: peerId },
  ];
  return {
    workflowId:
      nodeId === undefined
        ? legacyReconcileWorkflowId(storeId, peerId, legacyIdPrefix)
        : reconcileWorkflowId(nodeId, storeId, peerId),
    // A new run may start as soon as the previous one closed, whatever its outcome.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    typedSearchAttributes,
    memo: {
      role: 'StoreReconcile',
      store: storeId,
      peer: peerId,
      trigger,
      ...(nodeId === undefined ? {} : { node: nodeId }),
    },
  };
}

/**
 * StoreReconcile (`reconcile:{nodeId}:{storeId}:{peerId}`): compares this node's event log of a store with
 * the peer's by digest tree, pulls what is missing here and pushes what is missing there, and
 * returns per entity what was missing and replayed with the HTTP traffic it cost
 * (domain/reconcile/digest-walk.ts, ReconcileResult). The workflow id is the lock: one reconcile
 * per store and peer at a time.
 */
export async function storeReconcileWorkflow(input: StoreReconcileInput): Promise<ReconcileResult> {
  const { storeId, peerId } = input;
  const step = { storeId, peerId, httpTimeoutMs: input.httpTimeoutMs ?? 15_000 };
  const chunkSize = Math.max(1, Math.min(input.chunkSize, 1000));
  const maxRounds = input.maxRounds ?? 100;
  const result = input.carried?.result ?? emptyResult();
  const progress: ReconcileProgress = {
    storeId,
    peerId,
    phase: 'diff',
    round: input.carried?.rounds ?? 0,
    toPull: 0,
    pulled: 0,
    toPush: 0,
    pushed: 0,
    result,
  };
  setHandler(progressQuery, () => progress);

  for (;;) {
    progress.round += 1;
    progress.phase = 'diff';
    const diff = await diffWithPeer({ ...step, walk: input.walk });
    addTraffic(result, diff.traffic);
    addConflicts(result, diff.conflicts);
    if (diff.inSync) break;
    addTally(result, 'remoteMissingCount', diff.remoteMissing);

    progress.phase = 'pull';
    progress.toPull = diff.missingHere.length;
    progress.pulled = 0;
    let held = 0;
    for (const eventIds of chunk(diff.missingHere, chunkSize)) {
      const r = await pullFromPeer({ ...step, eventIds });
      addTraffic(result, r.traffic);
      addTally(result, 'localMissingCount', r.fetched);
      addTally(result, 'replayedToLocal', r.replayed);
      addConflicts(result, r.conflicts);
      progress.pulled += eventIds.length;
      held += Object.values(r.replayed).reduce((a, b) => a + (b ?? 0), 0);
    }

    progress.phase = 'push';
    progress.toPush = diff.missingThere.length;
    progress.pushed = 0;
    for (const eventIds of chunk(diff.missingThere, chunkSize)) {
      const r = await pushToPeer({ ...step, eventIds });
      addTraffic(result, r.traffic);
      addTally(result, 'replayedToRemote', r.replayed);
      addConflicts(result, r.conflicts);
      progress.pushed += eventIds.length;
      held += Object.values(r.replayed).reduce((a, b) => a + (b ?? 0), 0);
    }

    // One walk finds everything unless it hit its id limit; walk again then, but never in circles
    // (a round that repaired nothing means the rest is refused or conflicting).
    if (!diff.truncated || held === 0 || progress.round >= maxRounds) break;
    const roundsThisRun = progress.round - (input.carried?.rounds ?? 0);
    if (
      workflowInfo().continueAsNewSuggested ||
      roundsThisRun >= (input.continueAsNewAfterRounds ?? Infinity)
    ) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof storeReconcileWorkflow>({
        ...input,
        carried: { result, rounds: progress.round },
      });
    }
  }
  progress.phase = 'done';
  log.info('store reconciled', {
    storeId,
    peerId,
    rounds: progress.round,
    roundTrips: result.roundTrips,
    bytes: result.bytes,
    conflicts: result.conflicts.length,
  });
  return result;
}
