import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { findAgent } from '../../infra/repositories/erp-agents';
import { ApiError, AppError } from '../../domain/errors';
import { erpReconcileWorkflowId } from '../../workflows/erp/ids';
import { vendorReconcileStartOptions, vendorReconcileWorkflow } from '../../workflows/erp/vendor-reconcile';

/**
 * Starts VendorReconcile for a vendor (admin trigger). One at a time per vendor: while one runs,
 * 409 LOCK_HELD names it (the workflow id is the lock, conflict policy FAIL; its continue-as-new
 * runs keep the id). The request's correlation id goes with it to every agent call and log line.
 */
export async function triggerVendorReconcile(
  client: Client | undefined,
  db: Db,
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE' | 'ERP_RECONCILE_LEAF_SIZE' | 'ERP_AGENT_TIMEOUT_MS'>,
  vendorId: string,
  correlationId?: string,
) {
  if (!(await findAgent(db, vendorId))) {
    throw new AppError(404, ApiError.agentNotFound, `no agent is registered for vendor ${vendorId}`);
  }
  if (!client) throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');
  try {
    const handle = await client.workflow.start(vendorReconcileWorkflow, {
      ...vendorReconcileStartOptions(vendorId, 'api'),
      workflowIdConflictPolicy: 'FAIL',
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [
        {
          vendorId,
          trigger: 'api',
          leafSize: config.ERP_RECONCILE_LEAF_SIZE,
          agentTimeoutMs: config.ERP_AGENT_TIMEOUT_MS,
          ...(correlationId ? { correlationId } : {}),
        },
      ],
    });
    return { vendorId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    throw new AppError(
      409,
      ApiError.lockHeld,
      `a reconciliation of vendor ${vendorId} is already running (${erpReconcileWorkflowId(vendorId)})`,
      { workflowId: erpReconcileWorkflowId(vendorId) },
    );
  }
}
