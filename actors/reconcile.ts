import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { rootCause } from '@temporalio/common';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { requirePeer } from '../infra/peers/find-peer';
import { requireStore } from '../infra/repositories/stores';
import { ApiError, AppError } from '../domain/errors';
import type { ReconcileResult } from '../domain/reconcile/digest-walk';
import { reconcileWorkflowId } from '../workflows/ids';
import {
  reconcileStartOptions,
  storeReconcileWorkflow,
  type ReconcileTrigger,
} from '../workflows/store-reconcile';

/**
 * Starts StoreReconcile for one store and peer. Throws WorkflowExecutionAlreadyStartedError while
 * one is running for that pair (conflict policy FAIL: the workflow id is the lock).
 */
export function startStoreReconcile(
  client: Client,
  config: Pick<Config, 'NODE_ID' | 'TEMPORAL_TASK_QUEUE' | 'RECONCILE_CHUNK_SIZE' | 'RELAY_HTTP_TIMEOUT_MS'>,
  opts: { storeId: string; peerId: string; trigger: ReconcileTrigger; chunkSize?: number },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof storeReconcileWorkflow>> {
  return client.workflow.start(storeReconcileWorkflow, {
    ...reconcileStartOptions(config.NODE_ID, opts.storeId, opts.peerId, opts.trigger),
    workflowIdConflictPolicy: 'FAIL',
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [
      {
        storeId: opts.storeId,
        peerId: opts.peerId,
        chunkSize: opts.chunkSize ?? config.RECONCILE_CHUNK_SIZE,
        httpTimeoutMs: config.RELAY_HTTP_TIMEOUT_MS,
      },
    ],
  });
}

export interface ReconcileRequest {
  storeId: string;
  /** One peer, or every configured peer when absent. */
  peerId?: string;
  chunkSize?: number;
}

export interface StartedReconcile {
  peerId: string;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof storeReconcileWorkflow>;
}

type ReconcileConfig = Parameters<typeof startStoreReconcile>[1] & Pick<Config, 'PEERS'>;

/**
 * Starts StoreReconcile for a store with one peer or all of them. The store must be held here and the
 * peer configured (404), there must be a peer at all (409 NO_PEERS); while a reconcile of the same
 * store and peer runs, 409 LOCK_HELD names it (and the ones this call did start).
 */
export async function startReconciles(
  client: Client | undefined,
  db: Db,
  config: ReconcileConfig,
  req: ReconcileRequest,
): Promise<StartedReconcile[]> {
  await requireStore(db, req.storeId);
  const peers = req.peerId === undefined ? config.PEERS : [requirePeer(config, req.peerId)];
  if (peers.length === 0) {
    throw new AppError(
      409,
      ApiError.noPeers,
      'this node has no peers configured (PEERS): there is nothing to reconcile with',
    );
  }
  if (!client) throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');

  const started: StartedReconcile[] = [];
  const held: { peer_id: string; workflow_id: string }[] = [];
  for (const peer of peers) {
    try {
      const handle = await startStoreReconcile(client, config, {
        storeId: req.storeId,
        peerId: peer.id,
        trigger: 'api',
        chunkSize: req.chunkSize,
      });
      started.push({ peerId: peer.id, handle });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      held.push({ peer_id: peer.id, workflow_id: reconcileWorkflowId(config.NODE_ID, req.storeId, peer.id) });
    }
  }
  if (held.length > 0) {
    throw new AppError(
      409,
      ApiError.lockHeld,
      `a reconcile of store ${req.storeId} with ${held.map((h) => h.peer_id).join(', ')} is already running ` +
        `(${held.map((h) => h.workflow_id).join(', ')}); wait for it or follow it in the Temporal UI`,
      {
        running: held,
        started: started.map((s) => ({ peer_id: s.peerId, workflow_id: s.handle.workflowId })),
      },
    );
  }
  return started;
}

/** The results of started reconciles, by peer; 502 RECONCILE_FAILED naming each one that failed. */
export async function reconcileResults(
  storeId: string,
  started: StartedReconcile[],
): Promise<Map<string, ReconcileResult>> {
  const outcomes = await Promise.allSettled(started.map((s) => s.handle.result()));
  const failed = outcomes.flatMap((o, i) =>
    o.status === 'rejected'
      ? [
          {
            peer_id: started[i]!.peerId,
            workflow_id: started[i]!.handle.workflowId,
            error: causeOf(o.reason),
          },
        ]
      : [],
  );
  if (failed.length > 0) {
    throw new AppError(
      502,
      ApiError.reconcileFailed,
      `reconcile of store ${storeId} failed with ${failed.map((f) => `${f.peer_id}: ${f.error}`).join('; ')}`,
      { failed },
    );
  }
  return new Map(
    outcomes.map((o, i) => [started[i]!.peerId, (o as PromiseFulfilledResult<ReconcileResult>).value]),
  );
}

function causeOf(err: unknown): string {
  return rootCause(err) ?? (err instanceof Error ? err.message : String(err));
}
