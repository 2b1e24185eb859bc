import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { Config } from '../infra/config';
import { selfCheckWorkflowId } from '../workflows/ids';
import { StoreIdKey } from '../workflows/search-keys';
import { projectionSelfCheckWorkflow, type SelfCheckSummary } from '../workflows/self-check';
import { ApiError, AppError } from '../domain/errors';

/**
 * Runs the projection self-check of one store now and waits for it. A check of the store already
 * running is joined, not doubled (`self-check:{node}:{store}`, conflict policy use-existing).
 */
export async function runSelfCheck(
  temporal: Client | undefined,
  config: Pick<Config, 'NODE_ID' | 'TEMPORAL_TASK_QUEUE'>,
  storeId: string,
): Promise<SelfCheckSummary> {
  if (!temporal) throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');
  const handle = await temporal.workflow.start(projectionSelfCheckWorkflow, {
    workflowId: selfCheckWorkflowId(config.NODE_ID, storeId),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [{ storeId }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [{ key: StoreIdKey, value: storeId }],
  });
  return handle.result();
}
