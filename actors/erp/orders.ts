import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import type { Log } from '../../infra/log';
import { createMappingCheck, produceSaleOrders, SALES_PAGE } from '../../infra/erp/order-feed';
import { audit } from '../../infra/repositories/erp-audit-log';
import { findAgent } from '../../infra/repositories/erp-agents';
import {
  getDeadLetter,
  lockOpenDeadLetter,
  markRetried,
  resolveOpenDeadLettersOfJob,
} from '../../infra/repositories/erp-dead-letters';
import { createOrder, getOrder, setOrderErpReference } from '../../infra/repositories/erp-orders';
import {
  createJob,
  getJob,
  idempotencyKeyOf,
  markCompleted,
  markWorkflowStarted,
  type ErpSyncJob,
} from '../../infra/repositories/erp-sync-jobs';
import type { CallbackBody } from '../../domain/erp/schemas';
import { ApiError, AppError } from '../../domain/errors';
import {
  erpCallbackSignal,
  erpOrderDeliveryWorkflow,
  erpOrderStartOptions,
} from '../../workflows/erp/order-delivery';

// The client side of ErpOrderDelivery: a job is created (row first, then its workflow), the agent's
// callbacks become signals, a dead letter is retried as a new job with a new workflow, and POS sales
// of mapped stores become jobs after each push (the order producer's post-commit pass).

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

/** How a job is delivered (retries, timeouts): the same for a started job and the order sweep's. */
export function deliverySettings(
  config: Pick<
    Config,
    | 'ERP_ORDER_MAX_ATTEMPTS'
    | 'ERP_ORDER_BACKOFF_SECONDS'
    | 'ERP_AGENT_TIMEOUT_MS'
    | 'ERP_CALLBACK_TIMEOUT_SECONDS'
  >,
) {
  return {
    policy: {
      maxAttempts: config.ERP_ORDER_MAX_ATTEMPTS,
      backoffSeconds: config.ERP_ORDER_BACKOFF_SECONDS,
    },
    agentTimeoutMs: config.ERP_AGENT_TIMEOUT_MS,
    callbackTimeoutSeconds: config.ERP_CALLBACK_TIMEOUT_SECONDS,
  };
}

export function deliveryInput(config: OrderConfig, job: Pick<ErpSyncJob, 'id' | 'vendor_id'>) {
  return { jobId: job.id, vendorId: job.vendor_id, ...deliverySettings(config) };
}

/**
 * Starts a committed job's workflow and records that it did (a job whose workflow already exists
 * counts as started: the id is the job's, so a second start can never deliver twice).
 */
export async function startDelivery(
  client: Client,
  db: Db,
  config: OrderConfig,
  job: Pick<ErpSyncJob, 'id' | 'vendor_id'>,
): Promise<string> {
  const options = erpOrderStartOptions(job.id, job.vendor_id);
  try {
    await client.workflow.start(erpOrderDeliveryWorkflow, {
      ...options,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [deliveryInput(config, job)],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await markWorkflowStarted(db, [job.id]);
  return options.workflowId;
}

/**
 * An order for a vendor's ERP: the order and its job are committed, then the job's workflow starts
 * (a crash in between leaves a pending job without a workflow, which the order sweep starts; its id
 * is also the workflow id, so starting it again cannot deliver twice).
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
  const workflowId = await startDelivery(temporal, db, config, job);
  return { jobId: job.id, orderId: order.id, workflowId, correlationId: job.correlation_id };
}

/**
 * The agent's callback: a signal to the job's workflow. A job whose workflow has closed is answered
 * from its row (a repeated callback is idempotent); a late `completed` for a job that ran out of
 * attempts still records the ERP's reference and, in the same transaction, resolves the job's open
 * dead letter (the ERP has the order: a retry would send it twice, and the DLQ alert would go on).
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
        if (!(await markCompleted(trx, job.id, cb.erpReference!))) return;
        if (job.order_id) await setOrderErpReference(trx, job.order_id, cb.erpReference!);
        const resolution = `the agent reported the order completed late (${cb.erpReference!})`;
        for (const id of await resolveOpenDeadLettersOfJob(trx, job, 'callback', resolution)) {
          await audit(trx, {
            actor: `agent:${agentVendorId}`,
            action: 'dlq.resolve',
            target_type: 'dead_letter',
            target_id: id,
            details: { jobId: job.id, erpReference: cb.erpReference!, by: 'callback' },
          });
        }
      });
      return { jobId: job.id, status: 'completed' };
    }
  }
  return { jobId: job.id, status: cb.status === 'completed' ? 'completing' : job.status };
}

/**
 * Retries a dead letter: a new job with the dead letter's own payload copy and a new workflow run,
 * showing the agent the original job's idempotency key (an agent that did create the order after
 * all answers with it instead of creating another). Refused (409) when the job or its order has
 * completed meanwhile: the ERP has the order.
 */
export async function retryDeadLetter(
  client: Client | undefined,
  db: Db,
  config: OrderConfig,
  id: string,
  actor: string,
  correlationId?: string,
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
      idempotencyKey?: string;
      payload?: Record<string, unknown>;
    };
    const original = dl.job_id ? await getJob(trx, dl.job_id) : undefined;
    const order = copy.orderId ? await getOrder(trx, copy.orderId) : undefined;
    if (original?.status === 'completed' || order?.erp_reference) {
      throw new AppError(
        409,
        ApiError.orderAlreadyCompleted,
        `dead letter ${id}: the ERP already has this order (${original?.erp_reference ?? order?.erp_reference}); resolve it instead`,
      );
    }
    const j = await createJob(trx, {
      vendor_id: dl.vendor_id,
      order_id: copy.orderId ?? null,
      job_type: copy.jobType ?? 'create-order',
      payload: copy.payload ?? {},
      correlation_id: correlationId ?? randomUUID(),
      idempotency_key: copy.idempotencyKey ?? (original ? idempotencyKeyOf(original) : dl.job_id),
    });
    await markRetried(trx, dl.id, j.id);
    await audit(trx, {
      actor,
      action: 'dlq.retry',
      target_type: 'dead_letter',
      target_id: dl.id,
      details: { newJobId: j.id, idempotencyKey: idempotencyKeyOf(j) },
    });
    return j;
  });
  const workflowId = await startDelivery(temporal, db, config, job);
  return { deadLetterId: id, jobId: job.id, workflowId };
}

const FEED_GAP_MS = 100;
/** How long the post-commit pass trusts its "is any store mapped?" answer. */
const MAPPING_CHECK_TTL_MS = 5_000;

/** Starts the workflows of jobs just committed; one that fails to start is left to the order sweep. */
export async function startDeliveries(
  client: Client,
  db: Db,
  config: OrderConfig,
  jobs: Pick<ErpSyncJob, 'id' | 'vendor_id'>[],
  log: Log,
): Promise<number> {
  let started = 0;
  for (const job of jobs) {
    try {
      await startDelivery(client, db, config, job);
      started += 1;
    } catch (err) {
      log.warn({ err, jobId: job.id }, 'erp order workflow not started; the order sweep will start it');
    }
  }
  return started;
}

/**
 * The post-commit step of the order producer, for the API: after a push commits events, one
 * producer pass (POS sales of mapped stores → orders and jobs) and the jobs' workflows. Passes are
 * coalesced (one at a time per process, one more if nudged meanwhile); a failed pass only delays
 * the orders: the order sweep (a Temporal Schedule) makes the same pass. On a node with no store
 * mapped to a vendor the pass is skipped (a cached check; `mappingsChanged` drops it). Never throws.
 */
export function createOrderFeed(deps: {
  client: Client;
  db: Db;
  config: OrderConfig;
  log: Log;
  onJobs?: (n: number) => void;
  /** Sales read per pass (tests page with a small one). */
  pageSize?: number;
}) {
  let running: Promise<void> | null = null;
  let again = false;
  const pageSize = deps.pageSize ?? SALES_PAGE;
  const mapped = createMappingCheck(deps.db, MAPPING_CHECK_TTL_MS);
  const pass = async () => {
    if (!(await mapped.any())) return;
    for (;;) {
      const produced = await produceSaleOrders(deps.db, deps.log, pageSize);
      if (!produced) {
        // Another pass holds the cursor, and its snapshot may predate the push that nudged this
        // one: try again after the gap rather than leave that push's sales to the sweep.
        again = true;
        return;
      }
      if (produced.jobs.length > 0) {
        deps.onJobs?.(produced.jobs.length);
        await startDeliveries(deps.client, deps.db, deps.config, produced.jobs, deps.log);
      }
      // A full page may be followed by more, even when all of it were duplicates (0 jobs).
      if (produced.read < pageSize) return;
    }
  };
  const run = (): Promise<void> =>
    pass()
      .catch((err: unknown) => deps.log.warn({ err }, 'erp order producer pass failed; the sweep will retry'))
      .then(() => {
        if (!again) {
          running = null;
          return;
        }
        again = false;
        // A short gap: under a stream of pushes this is one pass per gap, not one per push.
        return new Promise((r) => setTimeout(r, FEED_GAP_MS)).then(run);
      });
  const nudge = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = run();
  };
  return {
    nudge,
    /** A store → vendor mapping was set or removed in this process: check again, and make a pass. */
    mappingsChanged(): void {
      mapped.invalidate();
      nudge();
    },
    /** Resolves when no pass is under way (tests, shutdown). */
    async idle(): Promise<void> {
      while (running) await running;
    },
  };
}
