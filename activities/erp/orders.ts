import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from '..';
import { callAgent, AgentCallError } from '../../infra/erp/agent-client';
import { throughBreaker } from '../../infra/erp/breaker';
import { findAgent } from '../../infra/repositories/erp-agents';
import { insertDeadLetter, openDeadLetterOfJob } from '../../infra/repositories/erp-dead-letters';
import { produceSaleOrders } from '../../infra/erp/order-feed';
import { getOrder, setOrderErpReference } from '../../infra/repositories/erp-orders';
import {
  getJob,
  idempotencyKeyOf,
  listUnstartedJobs,
  markWorkflowStarted,
  markAttempt,
  markAttemptFailed,
  markCompleted,
  markFailed,
} from '../../infra/repositories/erp-sync-jobs';
import { createOrderAnswerSchema } from '../../domain/erp/schemas';
import { Failure } from '../../domain/errors';
import { agentFailure } from './failures';
import { erpRuntime } from './runtime';

export interface DeliverOrderInput {
  jobId: string;
  attempt: number;
  timeoutMs: number;
}

export type DeliverOrderAnswer = { status: 'accepted' } | { status: 'completed'; erpReference: string };

/** The order-delivery steps of ErpOrderDelivery (each idempotent: a retried step changes nothing twice). */
export function createErpOrderActivities(deps: ActivityDeps) {
  const { db } = deps;
  const rt = erpRuntime(deps);
  const finished = (vendor: string, outcome: 'completed' | 'dead_lettered', attempts: number) => {
    rt.metrics.erpDeliveries.inc({ vendor, outcome });
    rt.metrics.erpDeliveryAttemptsPerJob.observe({ vendor, outcome }, attempts);
  };
  return {
    /**
     * One attempt: POST the order to the agent's /sync/create-order through the vendor's `orders`
     * breaker, with the job id as Idempotency-Key (a repeat after a lost answer or a killed worker is
     * the same order to the agent).
     */
    async erpDeliverOrder(input: DeliverOrderInput): Promise<DeliverOrderAnswer> {
      const job = await getJob(db, input.jobId);
      if (!job)
        throw ApplicationFailure.create({
          type: Failure.invalidInput,
          message: `no job ${input.jobId}`,
          nonRetryable: true,
        });
      if (job.status === 'completed') return { status: 'completed', erpReference: job.erp_reference ?? '' };
      // The order reached the ERP through another job (a late callback of a dead-lettered one).
      const order = job.order_id ? await getOrder(db, job.order_id) : undefined;
      if (order?.erp_reference) return { status: 'completed', erpReference: order.erp_reference };
      const agent = await findAgent(db, job.vendor_id);
      if (!agent || !agent.is_active) {
        throw ApplicationFailure.create({
          type: Failure.agentNotRegistered,
          message: `no active agent is registered for vendor ${job.vendor_id}`,
        });
      }
      await markAttempt(db, job.id, input.attempt);
      const log = deps.log.child({
        correlationId: job.correlation_id,
        jobId: job.id,
        vendorId: job.vendor_id,
      });
      try {
        const raw = await throughBreaker(rt.breaker(log), job.vendor_id, 'orders', () =>
          callAgent({
            baseUrl: agent.agent_url,
            method: 'POST',
            path: '/sync/create-order',
            body: { jobId: job.id, orderId: job.order_id, vendorId: job.vendor_id, order: job.payload },
            token: rt.callToken,
            correlationId: job.correlation_id,
            idempotencyKey: idempotencyKeyOf(job),
            timeoutMs: input.timeoutMs,
            log,
            metrics: rt.callMetrics(job.vendor_id, 'orders'),
          }).then((answer) => {
            const parsed = createOrderAnswerSchema.safeParse(answer);
            if (!parsed.success)
              throw new AgentCallError('refused', '/sync/create-order: answer outside the contract');
            if (parsed.data.status === 'failed' || parsed.data.accepted === false) {
              throw new AgentCallError(
                'refused',
                `/sync/create-order: ${parsed.data.error ?? 'refused by the agent'}`,
              );
            }
            return parsed.data;
          }),
        );
        log.info({ attempt: input.attempt }, 'order delivered to the erp agent');
        rt.metrics.erpDeliveryAttempts.inc({ vendor: job.vendor_id, outcome: 'delivered' });
        return raw.status === 'completed' && raw.erpReference
          ? { status: 'completed', erpReference: raw.erpReference }
          : { status: 'accepted' };
      } catch (err) {
        log.warn(
          { attempt: input.attempt, err: err instanceof Error ? err.message : String(err) },
          'order delivery failed',
        );
        rt.metrics.erpDeliveryAttempts.inc({ vendor: job.vendor_id, outcome: 'failed' });
        throw agentFailure(err);
      }
    },

    /**
     * The order sweep's first step: one producer pass (POS sales → orders and jobs), then every
     * pending job without a workflow: the ones just made and those a crash left unstarted.
     */
    async erpOrderSweep(input: {
      graceMs: number;
      limit: number;
    }): Promise<{ produced: number; jobs: { id: string; vendorId: string }[] }> {
      const produced = await produceSaleOrders(db, deps.log, input.limit);
      const fresh = produced?.jobs ?? [];
      // Jobs made here count like the API's (post-commit pass, test orders, DLQ retries).
      if (fresh.length > 0) rt.metrics.erpOrderJobs.inc({ event: 'created' }, fresh.length);
      const stale = await listUnstartedJobs(db, input.graceMs, input.limit);
      const jobs = new Map([...fresh, ...stale].map((j) => [j.id, { id: j.id, vendorId: j.vendor_id }]));
      return { produced: fresh.length, jobs: [...jobs.values()] };
    },

    async erpMarkWorkflowsStarted(input: { jobIds: string[] }): Promise<void> {
      await markWorkflowStarted(db, input.jobIds);
    },

    async erpRecordAttemptFailure(input: { jobId: string; error: string }): Promise<void> {
      await markAttemptFailed(db, input.jobId, input.error);
    },

    /** The job and its order get the ERP's reference, in one transaction; false when already done. */
    async erpCompleteJob(input: { jobId: string; erpReference: string }): Promise<boolean> {
      const done = await db.transaction().execute(async (trx) => {
        const job = await getJob(trx, input.jobId);
        if (!job) return null;
        const changed = await markCompleted(trx, job.id, input.erpReference);
        if (changed && job.order_id) await setOrderErpReference(trx, job.order_id, input.erpReference);
        return changed ? job : null;
      });
      // Counted once per job: a retried or repeated completion changes nothing and counts nothing.
      if (done) finished(done.vendor_id, 'completed', done.attempts);
      return done !== null;
    },

    /** Every attempt failed: the job is failed and a dead letter keeps its own copy of the payload. */
    async erpDeadLetter(input: { jobId: string; error: string; attempts: number }): Promise<string | null> {
      const dead = await db.transaction().execute(async (trx) => {
        const job = await getJob(trx, input.jobId);
        if (!job || job.status === 'completed') return null;
        await markFailed(trx, job.id, input.error);
        const existing = await openDeadLetterOfJob(trx, job.id);
        if (existing) return { id: existing.id, vendor: null };
        const dl = await insertDeadLetter(trx, {
          job_id: job.id,
          vendor_id: job.vendor_id,
          payload: {
            jobType: job.job_type,
            orderId: job.order_id,
            idempotencyKey: idempotencyKeyOf(job),
            payload: job.payload,
          },
          error: input.error,
          attempts: input.attempts,
        });
        deps.log.warn(
          { jobId: job.id, vendorId: job.vendor_id, deadLetterId: dl.id, correlationId: job.correlation_id },
          'erp job dead-lettered',
        );
        return { id: dl.id, vendor: job.vendor_id };
      });
      if (dead?.vendor) finished(dead.vendor, 'dead_lettered', input.attempts);
      return dead?.id ?? null;
    },
  };
}
