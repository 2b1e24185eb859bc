import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { audit } from '../../infra/repositories/erp-audit-log';
import { findAgent } from '../../infra/repositories/erp-agents';
import { getDeadLetter, lockOpenDeadLetter, markRetried } from '../../infra/repositories/erp-dead-letters';
import { createOrder, setOrderErpReference } from '../../infra/repositories/erp-orders';
import { createJob, getJob, markCompleted, type ErpSyncJob } from '../../infra/repositories/erp-sync-jobs';
import type { CallbackBody } from '../../domain/erp/schemas';
import { ApiError, AppError } from '../../domain/errors';
import {
  erpCallbackSignal,
  erpOrderDeliveryWorkflow,
  erpOrderStartOptions,
} from '../../workflows/erp/order-delivery';

// The client side of ErpOrderDelivery: a job is created (row first, then its workflow), the agent's
// callbacks become signals, a dead letter is retried as a new job with a new workflow.

export type OrderConfig = Pick<
  Config,
  | 'TEMPORAL_TASK_QUEUE'
  | 'ERP_ORDER_MAX_ATTEMPTS'
  | 'ERP_ORDER_BACKOFF_SECONDS'
  | 'ERP_AGENT_TIMEOUT_MS'
  | 'ERP_CALLBACK_TIMEOUT_SECONDS'
>;

function requireClient(client: Client | undefined): Client {
  if (!client) throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');
  return client;
}

export async function startDelivery(client: Client, config: OrderConfig, job: ErpSyncJob): Promise<string> {
  const handle = await client.workflow.start(erpOrderDeliveryWorkflow, {
    ...erpOrderStartOptions(job.id, job.vendor_id),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [
      {
        jobId: job.id,
        vendorId: job.vendor_id,
        policy: {
          maxAttempts: config.ERP_ORDER_MAX_ATTEMPTS,
          backoffSeconds: config.ERP_ORDER_BACKOFF_SECONDS,
        },
        agentTimeoutMs: config.ERP_AGENT_TIMEOUT_MS,
        callbackTimeoutSeconds: config.ERP_CALLBACK_TIMEOUT_SECONDS,
      },
    ],
  });
  return handle.workflowId;
}

/**
 * An order for a vendor's ERP: the order and its job are committed, then the job's workflow starts
 * (a crash in between leaves a pending job the admin list shows; its id is also the workflow id, so
 * starting it again cannot deliver twice).
 */
export async function createOrderJob(
  client: Client | undefined,
  db: Db,
  config: OrderConfig,
  req: { vendorId: string; order: Record<string, unknown>; correlationId?: string },
) {
  if (!(await findAgent(db, req.vendorId))) {
    throw new AppError(404, ApiError.agentNotFound, `no agent is registered for vendor ${req.vendorId}`);
  }
  const temporal = requireClient(client);
  const { order, job } = await db.transaction().execute(async (trx) => {
    const o = await createOrder(trx, req.vendorId, req.order);
    const j = await createJob(trx, {
      vendor_id: req.vendorId,
      order_id: o.id,
      job_type: 'create-order',
      payload: req.order,
      correlation_id: req.correlationId ?? randomUUID(),
    });
    return { order: o, job: j };
  });
  const workflowId = await startDelivery(temporal, config, job);
  return { jobId: job.id, orderId: order.id, workflowId, correlationId: job.correlation_id };
}

/**
 * The agent's callback: a signal to the job's workflow. A job whose workflow has closed is answered
 * from its row (a repeated callback is idempotent); a late `completed` for a job that ran out of
 * attempts still records the ERP's reference.
 */
export async function deliverCallback(
  client: Client | undefined,
  db: Db,
  agentVendorId: string,
  cb: CallbackBody,
): Promise<{ jobId: string; status: string }> {
  const job = await getJob(db, cb.jobId);
  if (!job) throw new AppError(404, ApiError.jobNotFound, `no sync job ${cb.jobId}`);
  if (job.vendor_id !== agentVendorId) {
    throw new AppError(403, ApiError.forbidden, `job ${cb.jobId} belongs to another vendor`);
  }
  if (cb.status === 'completed' && !cb.erpReference) {
    throw new AppError(400, ApiError.validationFailed, 'erpReference: required when status is completed');
  }
  if (job.status === 'completed') return { jobId: job.id, status: job.status };
  const temporal = requireClient(client);
  try {
    await temporal.workflow
      .getHandle(erpOrderStartOptions(job.id, job.vendor_id).workflowId)
      .signal(erpCallbackSignal, { status: cb.status, erpReference: cb.erpReference, error: cb.error });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    if (cb.status === 'completed') {
      await db.transaction().execute(async (trx) => {
        if ((await markCompleted(trx, job.id, cb.erpReference!)) && job.order_id) {
          await setOrderErpReference(trx, job.order_id, cb.erpReference!);
        }
      });
      return { jobId: job.id, status: 'completed' };
    }
  }
  return { jobId: job.id, status: cb.status === 'completed' ? 'completing' : job.status };
}

/** Retries a dead letter: a new job with the dead letter's own payload copy and a new workflow run. */
export async function retryDeadLetter(
  client: Client | undefined,
  db: Db,
  config: OrderConfig,
  id: string,
  actor: string,
) {
  const open = await getDeadLetter(db, id);
  if (!open || open.resolved_at) {
    throw new AppError(404, ApiError.deadLetterNotFound, `no unresolved dead letter ${id}`);
  }
  const temporal = requireClient(client);
  const job = await db.transaction().execute(async (trx) => {
    const dl = await lockOpenDeadLetter(trx, id);
    if (!dl) {
      throw new AppError(404, ApiError.deadLetterNotFound, `no unresolved dead letter ${id}`);
    }
    const copy = dl.payload as {
      jobType?: string;
      orderId?: string | null;
      payload?: Record<string, unknown>;
    };
    const j = await createJob(trx, {
      vendor_id: dl.vendor_id,
      order_id: copy.orderId ?? null,
      job_type: copy.jobType ?? 'create-order',
      payload: copy.payload ?? {},
      correlation_id: randomUUID(),
    });
    await markRetried(trx, dl.id, j.id);
    await audit(trx, {
      actor,
      action: 'dlq.retry',
      target_type: 'dead_letter',
      target_id: dl.id,
      details: { newJobId: j.id },
    });
    return j;
  });
  const workflowId = await startDelivery(temporal, config, job);
  return { deadLetterId: id, jobId: job.id, workflowId };
}
