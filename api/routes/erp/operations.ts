import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pingDatabase } from '../../../infra/db';
import { withTimeout } from '../../../infra/timeout';
import { audit } from '../../../infra/repositories/erp-audit-log';
import { allAgents } from '../../../infra/repositories/erp-agents';
import {
  listBreakersPage,
  resetBreakers,
  type ErpCircuitBreaker,
} from '../../../infra/repositories/erp-circuit-breakers';
import {
  getDeadLetter,
  listDeadLetters,
  resolveDeadLetter,
  type ErpDeadLetter,
} from '../../../infra/repositories/erp-dead-letters';
import {
  listReconciliationEvents,
  reconciliationMetrics,
  type ErpReconciliationEvent,
} from '../../../infra/repositories/erp-reconciliation-events';
import {
  getJob,
  listJobs,
  vendorJobMetrics,
  type ErpSyncJob,
} from '../../../infra/repositories/erp-sync-jobs';
import { createOrderJob, deliverCallback, retryDeadLetter } from '../../../actors/erp/orders';
import { triggerVendorReconcile } from '../../../actors/erp/reconcile';
import { agentStatus } from '../../../domain/erp/agent-status';
import {
  callbackBodySchema,
  pageMetaSchema,
  pageOf,
  pageQuerySchema,
  pgText,
  testOrderBodySchema,
  vendorIdSchema,
} from '../../../domain/erp/schemas';
import { ApiError, AppError } from '../../../domain/errors';
import { errorResponses } from '../../errors';
import { adminActor, agentFor, erpRouteConfigs, offsetOf, type ErpContext } from './context';

const tags = ['erp'];
const idParams = z.object({ id: z.guid() });
const vendorParams = z.object({ vendorId: vendorIdSchema });
const json = z.record(z.string(), z.unknown());

const jobSchema = z.object({
  id: z.string(),
  vendorId: z.string(),
  orderId: z.string().nullable(),
  jobType: z.string(),
  status: z.string(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  erpReference: z.string().nullable(),
  correlationId: z.string(),
  payload: json,
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().nullable(),
});
const jobView = (j: ErpSyncJob): z.infer<typeof jobSchema> => ({
  id: j.id,
  vendorId: j.vendor_id,
  orderId: j.order_id,
  jobType: j.job_type,
  status: j.status,
  attempts: j.attempts,
  lastError: j.last_error,
  erpReference: j.erp_reference,
  correlationId: j.correlation_id,
  payload: j.payload,
  createdAt: j.created_at.toISOString(),
  updatedAt: j.updated_at.toISOString(),
  completedAt: j.completed_at?.toISOString() ?? null,
});

const deadLetterSchema = z.object({
  id: z.string(),
  jobId: z.string().nullable(),
  vendorId: z.string(),
  payload: json,
  error: z.string(),
  attempts: z.number().int(),
  retryCount: z.number().int(),
  lastRetryJobId: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.string().nullable(),
  createdAt: z.string(),
});
const deadLetterView = (d: ErpDeadLetter): z.infer<typeof deadLetterSchema> => ({
  id: d.id,
  jobId: d.job_id,
  vendorId: d.vendor_id,
  payload: d.payload,
  error: d.error,
  attempts: d.attempts,
  retryCount: d.retry_count,
  lastRetryJobId: d.last_retry_job_id,
  resolvedAt: d.resolved_at?.toISOString() ?? null,
  resolvedBy: d.resolved_by,
  resolution: d.resolution,
  createdAt: d.created_at.toISOString(),
});

const eventSchema = z.object({
  id: z.string(),
  vendorId: z.string(),
  eventType: z.string(),
  trigger: z.string(),
  summary: json,
  durationMs: z.number().int(),
  createdAt: z.string(),
});
const eventView = (e: ErpReconciliationEvent): z.infer<typeof eventSchema> => ({
  id: e.id,
  vendorId: e.vendor_id,
  eventType: e.event_type,
  trigger: e.trigger,
  summary: e.summary,
  durationMs: e.duration_ms,
  createdAt: e.created_at.toISOString(),
});

const breakerSchema = z.object({
  key: z.string(),
  vendorId: z.string(),
  apiType: z.string(),
  state: z.enum(['closed', 'open', 'half_open']),
  calls: z.number().int(),
  failures: z.number().int(),
  openedAt: z.string().nullable(),
  updatedAt: z.string(),
});
const breakerView = (b: ErpCircuitBreaker): z.infer<typeof breakerSchema> => ({
  key: `${b.vendor_id}:${b.api_type}`,
  vendorId: b.vendor_id,
  apiType: b.api_type,
  state: b.state,
  calls: b.calls,
  failures: b.failures,
  openedAt: b.opened_at?.toISOString() ?? null,
  updatedAt: b.updated_at.toISOString(),
});

const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), meta: pageMetaSchema });

/** REQ-6, 8, 9, 7, 11, 15: orders and callbacks, jobs, dead letters, reconciliation, breakers, health, metrics. */
export const erpOperationsRoutes: FastifyPluginAsyncZod<ErpContext> = async (app, ctx) => {
  const { db, config, metrics } = ctx;
  const routes = erpRouteConfigs(config);
  const { admin } = routes;

  app.post(
    '/api/agents/callback',
    {
      config: routes.sync,
      schema: {
        tags,
        summary:
          "The agent's answer for a job: completed (with erpReference) or failed (the job's retry policy goes on)",
        body: callbackBodySchema,
        response: { 200: z.object({ jobId: z.string(), status: z.string() }), ...errorResponses },
      },
    },
    async (request) => {
      const agent = agentFor(request);
      metrics.erpOrderJobs.inc({ event: `callback_${request.body.status}` });
      return deliverCallback(ctx.temporal, db, agent.vendorId, request.body);
    },
  );

  app.post(
    '/api/admin/orders/test',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: create a test order for a vendor and deliver it to its agent (one ErpOrderDelivery)',
        body: testOrderBodySchema,
        response: {
          202: z.object({
            jobId: z.string(),
            orderId: z.string(),
            workflowId: z.string(),
            correlationId: z.string(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const order = request.body.order ?? { reference: `TEST-${Date.now()}`, lines: 1, test: true };
      const started = await createOrderJob(ctx.temporal, db, config, {
        vendorId: request.body.vendorId,
        order,
        correlationId: request.correlationId,
      });
      metrics.erpOrderJobs.inc({ event: 'created' });
      return reply.status(202).send(started);
    },
  );

  app.get(
    '/api/admin/sync-jobs',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: recent sync jobs (newest first)',
        querystring: pageQuerySchema.extend({
          vendorId: vendorIdSchema.optional(),
          status: z.enum(['pending', 'in_progress', 'completed', 'failed']).optional(),
        }),
        response: { 200: page(jobSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listJobs(db, { vendorId: q.vendorId, status: q.status }, offsetOf(q));
      return pageOf(rows.map(jobView), total, q);
    },
  );

  const jobDetail = async (id: string) => {
    const job = await getJob(db, id);
    if (!job) throw new AppError(404, ApiError.jobNotFound, `no sync job ${id}`);
    return jobView(job);
  };
  for (const url of ['/api/admin/sync-jobs/:id', '/api/admin/sync-status/:id']) {
    app.get(
      url,
      {
        config: admin,
        schema: {
          tags,
          summary: 'Admin: one sync job in full',
          params: idParams,
          response: { 200: jobSchema, ...errorResponses },
        },
      },
      async (request) => jobDetail(request.params.id),
    );
  }

  app.get(
    '/api/admin/dlq',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: unresolved dead letters (newest first; includeResolved=true for all)',
        querystring: pageQuerySchema.extend({
          vendorId: vendorIdSchema.optional(),
          includeResolved: z.enum(['true', 'false']).optional(),
        }),
        response: { 200: page(deadLetterSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listDeadLetters(
        db,
        { vendorId: q.vendorId, includeResolved: q.includeResolved === 'true' },
        offsetOf(q),
      );
      return pageOf(rows.map(deadLetterView), total, q);
    },
  );

  app.get(
    '/api/admin/dlq/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: a dead letter with its payload',
        params: idParams,
        response: { 200: deadLetterSchema, ...errorResponses },
      },
    },
    async (request) => {
      const d = await getDeadLetter(db, request.params.id);
      if (!d) throw new AppError(404, ApiError.deadLetterNotFound, `no dead letter ${request.params.id}`);
      return deadLetterView(d);
    },
  );

  app.post(
    '/api/admin/dlq/:id/retry',
    {
      config: admin,
      schema: {
        tags,
        summary:
          "Admin: retry a dead letter as a new job (a new workflow run with the dead letter's payload and the original idempotency key); 409 ORDER_ALREADY_COMPLETED when the ERP has the order",
        params: idParams,
        response: {
          202: z.object({ deadLetterId: z.string(), jobId: z.string(), workflowId: z.string() }),
          409: errorResponses[400],
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const retried = await retryDeadLetter(
        ctx.temporal,
        db,
        config,
        request.params.id,
        adminActor(request),
        request.correlationId,
      );
      metrics.erpOrderJobs.inc({ event: 'created' });
      return reply.status(202).send(retried);
    },
  );

  app.post(
    '/api/admin/dlq/:id/resolve',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: mark a dead letter resolved by hand',
        params: idParams,
        body: z.strictObject({ resolution: pgText(2000).optional() }).optional(),
        response: { 200: deadLetterSchema, 409: errorResponses[400], ...errorResponses },
      },
    },
    async (request) => {
      const id = request.params.id;
      const actor = adminActor(request);
      const resolution = request.body?.resolution ?? 'resolved manually';
      await db.transaction().execute(async (trx) => {
        const d = await getDeadLetter(trx, id);
        if (!d) throw new AppError(404, ApiError.deadLetterNotFound, `no dead letter ${id}`);
        if (d.resolved_at)
          throw new AppError(409, ApiError.deadLetterResolved, `dead letter ${id} is already resolved`);
        await resolveDeadLetter(trx, id, actor, resolution);
        await audit(trx, {
          actor,
          action: 'dlq.resolve',
          target_type: 'dead_letter',
          target_id: id,
          details: { resolution },
        });
      });
      return deadLetterView((await getDeadLetter(db, id))!);
    },
  );

  app.post(
    '/api/admin/reconciliation/trigger',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: start drift detection for a vendor now (409 LOCK_HELD while one runs)',
        body: z.strictObject({ vendorId: vendorIdSchema }),
        response: {
          202: z.object({ vendorId: z.string(), workflowId: z.string(), runId: z.string() }),
          409: errorResponses[400],
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      reply
        .status(202)
        .send(
          await triggerVendorReconcile(
            ctx.temporal,
            db,
            config,
            request.body.vendorId,
            request.correlationId,
          ),
        ),
  );

  app.get(
    '/api/admin/reconciliation/events',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: reconciliation runs (newest first)',
        querystring: pageQuerySchema.extend({ vendorId: vendorIdSchema.optional() }),
        response: { 200: page(eventSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listReconciliationEvents(db, { vendorId: q.vendorId }, offsetOf(q));
      return pageOf(rows.map(eventView), total, q);
    },
  );

  app.get(
    '/api/admin/circuit-breaker/status',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'Admin: every circuit breaker (vendor:apiType) and its state, paginated like the other lists',
        querystring: pageQuerySchema.extend({ vendorId: vendorIdSchema.optional() }),
        response: { 200: page(breakerSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listBreakersPage(db, { vendorId: q.vendorId }, offsetOf(q));
      return pageOf(rows.map(breakerView), total, q);
    },
  );

  app.post(
    '/api/admin/circuit-breaker/reset',
    {
      config: admin,
      schema: {
        tags,
        summary: "Admin: force a vendor's breakers (or one apiType) closed",
        body: z.strictObject({ vendorId: vendorIdSchema, apiType: pgText(50).optional() }),
        response: { 200: z.object({ reset: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const { vendorId, apiType } = request.body;
      const reset = await resetBreakers(db, vendorId, apiType);
      await audit(db, {
        actor: adminActor(request),
        action: 'breaker.reset',
        target_type: 'breaker',
        target_id: apiType ? `${vendorId}:${apiType}` : vendorId,
        details: { reset },
      });
      request.log.warn({ vendorId, apiType, reset }, 'erp circuit breaker reset by an admin');
      return { reset };
    },
  );

  app.get(
    '/api/admin/metrics/reconciliation/:vendorId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: reconciliation figures of a vendor',
        params: vendorParams,
        response: {
          200: z.object({
            vendorId: z.string(),
            eventCount: z.number(),
            lastRun: z.string().nullable(),
            driftFrequency: z.number(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      vendorId: request.params.vendorId,
      ...(await reconciliationMetrics(db, request.params.vendorId)),
    }),
  );

  app.get(
    '/api/admin/metrics/:vendorId',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'Admin: sync job figures of a vendor (total, pending, completed, failed, success rate, latency, retry rate)',
        params: vendorParams,
        response: {
          200: z.object({
            vendorId: z.string(),
            total: z.number(),
            pending: z.number(),
            completed: z.number(),
            failed: z.number(),
            successRate: z.number(),
            avgLatency: z.number().nullable(),
            retryRate: z.number(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { avgLatencyMs, ...m } = await vendorJobMetrics(db, request.params.vendorId);
      return { vendorId: request.params.vendorId, ...m, avgLatency: avgLatencyMs };
    },
  );

  const up = z.object({ status: z.enum(['up', 'down']), message: z.string().optional() });
  const healthSchema = z.object({
    status: z.enum(['ok', 'error']),
    info: z.object({
      database: up,
      temporal: up,
      agents: up.extend({ online: z.number(), degraded: z.number(), total: z.number() }),
    }),
  });
  // The seed's `GET /health` (REQ-11) and this node's `/api/health`: one handler. It names the agents,
  // so it takes the admin credential like every route but the liveness probe (`/healthz`).
  for (const url of ['/api/health', '/health']) {
    app.get(
      url,
      {
        config: admin,
        schema: {
          tags,
          summary: 'ERP bridge health: database, Temporal, agents (503 when the database is down)',
          response: { 200: healthSchema, ...errorResponses, 503: healthSchema },
        },
      },
      async (_request, reply) => {
        const probe = async (check: () => Promise<unknown>) => {
          try {
            await withTimeout(check(), 2000, 'no answer within 2000 ms');
            return { status: 'up' as const };
          } catch (err) {
            return { status: 'down' as const, message: err instanceof Error ? err.message : String(err) };
          }
        };
        const [database, temporal] = await Promise.all([
          probe(() => pingDatabase(db)),
          probe(ctx.checkTemporal),
        ]);
        let agents = { status: 'down' as 'up' | 'down', online: 0, degraded: 0, total: 0 };
        if (database.status === 'up') {
          const thresholds = {
            degradedMs: config.ERP_AGENT_DEGRADED_SECONDS * 1000,
            offlineMs: config.ERP_AGENT_OFFLINE_SECONDS * 1000,
          };
          const all = (await allAgents(db)).filter((a) => a.is_active);
          const statuses = all.map((a) => agentStatus(a.last_heartbeat_at, new Date(), thresholds));
          const online = statuses.filter((s) => s === 'online').length;
          agents = {
            status: all.length === 0 || online > 0 ? 'up' : 'down',
            online,
            degraded: statuses.filter((s) => s === 'degraded').length,
            total: all.length,
          };
        }
        const ok = database.status === 'up';
        return reply
          .status(ok ? 200 : 503)
          .send({ status: ok ? 'ok' : 'error', info: { database, temporal, agents } });
      },
    );
  }
};
