import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Config } from '../infra/config';
import {
  reconcileStartOptions,
  storeReconcileWorkflow,
  type ReconcileTrigger,
} from '../workflows/store-reconcile';

export { reconcileWorkflowId } from '../workflows/ids';

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
