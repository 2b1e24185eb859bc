import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { listAlerts, setAlertStatus } from '../../infra/repositories/alerts';
import { snapshotsSince } from '../../infra/repositories/health-snapshots';
import { setAlertWebhook } from '../../infra/repositories/store-alert-settings';
import { requireStore } from '../../infra/repositories/stores';
import { buildHealthReport } from '../../actors/health';
import { runSelfCheck } from '../../actors/self-check';
import { ApiError, AppError } from '../../domain/errors';
import { errorResponses } from '../errors';

export interface HealthRoutesOptions {
  config: Config;
  db: Db;
  temporal?: Client;
}

const level = z.enum(['ok', 'warning', 'critical']);
const overall = z.enum(['healthy', 'degraded', 'critical']);
const reportSchema = z.looseObject({
  timestamp: z.string(),
  storeId: z.string(),
  overallHealth: overall,
  metrics: z.object({
    eventLagCount: z.number(),
    projectionGapCount: z.number(),
    stockDivergenceCount: z.number(),
    negativeStockCount: z.number(),
    queueDepth: z.number(),
    failedJobs: z.number(),
    remoteReachable: z.boolean(),
    remoteLatencyMs: z.number().nullable(),
    circuitBreakerState: z.string(),
  }),
  levels: z.record(z.string(), level),
  findings: z.array(
    z.object({
      level: z.enum(['warning', 'critical']),
      metric: z.string(),
      message: z.string(),
      ids: z.record(z.string(), z.unknown()),
      runbook: z.string(),
    }),
  ),
});
const alertSchema = z.object({
  id: z.string(),
  type: z.string(),
  severity: z.string(),
  store_id: z.string().nullable(),
  subject: z.string(),
  payload: z.unknown(),
  occurrences: z.number().int(),
  status: z.enum(['open', 'acknowledged', 'resolved']),
  created_at: z.string(),
  last_seen_at: z.string(),
  delivered_at: z.string().nullable(),
  resolved_at: z.string().nullable(),
});
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const storeId = z.guid().transform((s) => s.toLowerCase());

export const healthRoutes: FastifyPluginAsyncZod<HealthRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;
  const admin = { auth: ['admin' as const] };
  const security = [{ bearer: [] }];

  app.get(
    '/sync/federation/health',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary: "A store's federation health: the metrics, their levels, and what they mean for the shop",
        description: 'docs/health.md lists every metric, its thresholds and what stands in for the outbox.',
        security,
        querystring: z.object({ store_id: storeId }),
        response: { 200: reportSchema, ...errorResponses },
      },
    },
    async (request) => {
      await requireStore(db, request.query.store_id);
      return {
        ...(await buildHealthReport({ db, config, temporal: opts.temporal }, request.query.store_id)),
      };
    },
  );

  app.get(
    '/sync/federation/health/history',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary: "A store's health snapshots of the last hours (one per HealthMonitor tick), oldest first",
        security,
        querystring: z.object({
          store_id: storeId,
          hours: z.coerce
            .number()
            .int()
            .min(1)
            .max(24 * 90)
            .default(24),
        }),
        response: {
          200: z.object({
            store_id: z.string(),
            hours: z.number(),
            snapshots: z.array(z.object({ taken_at: z.string(), overall, report: z.unknown() })),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { store_id, hours } = request.query;
      await requireStore(db, store_id);
      const rows = await snapshotsSince(db, store_id, hours);
      return {
        store_id,
        hours,
        snapshots: rows.map((r) => ({
          taken_at: r.taken_at.toISOString(),
          overall: r.overall,
          report: r.report,
        })),
      };
    },
  );

  app.get(
    '/alerts',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary: 'Alerts, newest first (a store, or node-wide ones with store_id=none)',
        security,
        querystring: z.object({
          store_id: z.union([storeId, z.literal('none')]).optional(),
          type: z.string().max(100).optional(),
          status: z.enum(['open', 'acknowledged', 'resolved']).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z
            .string()
            .regex(/^\d{1,18}$/)
            .optional(),
        }),
        response: { 200: z.object({ alerts: z.array(alertSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await listAlerts(db, {
        store_id: q.store_id === 'none' ? null : q.store_id,
        type: q.type,
        status: q.status,
        limit: q.limit,
        before: q.before,
      });
      return {
        alerts: rows.map((a) => ({
          ...a,
          created_at: a.created_at.toISOString(),
          last_seen_at: a.last_seen_at.toISOString(),
          delivered_at: iso(a.delivered_at),
          resolved_at: iso(a.resolved_at),
        })),
      };
    },
  );

  app.post(
    '/alerts/:id/:action',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary: 'Acknowledge an alert (a person has seen it) or resolve it (repeats then raise a new one)',
        security,
        params: z.object({ id: z.string().regex(/^\d{1,18}$/), action: z.enum(['acknowledge', 'resolve']) }),
        response: {
          200: z.object({ id: z.string(), status: z.enum(['acknowledged', 'resolved']) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { id, action } = request.params;
      const status = action === 'acknowledge' ? ('acknowledged' as const) : ('resolved' as const);
      if (!(await setAlertStatus(db, id, status)))
        throw new AppError(404, ApiError.notFound, `id: no alert ${id}`);
      return { id, status };
    },
  );

  app.put(
    '/stores/:id/alert-webhook',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary:
          "Where the store's alerts are POSTed (JSON), retried until the receiver answers 2xx; null to stop",
        security,
        params: z.object({ id: storeId }),
        body: z.object({
          url: z
            .url({ protocol: /^https?$/ })
            .max(2000)
            .nullable(),
        }),
        response: { 200: z.object({ store_id: z.string(), webhook: z.boolean() }), ...errorResponses },
      },
    },
    async (request) => {
      await requireStore(db, request.params.id);
      await setAlertWebhook(db, request.params.id, request.body.url);
      return { store_id: request.params.id, webhook: request.body.url !== null };
    },
  );

  app.post(
    '/stores/:id/self-check',
    {
      config: admin,
      schema: {
        tags: ['health'],
        summary:
          "Rebuild the store's read models from its event log and compare them with the live tables, now",
        description:
          'Runs `self-check:{node}:{store}` (joins one already running) and waits. Rows that differ are listed per table ' +
          '(capped at 10 each side), saved, alerted (PROJECTION_SELF_CHECK_DIFFERS) and counted in the health report.',
        security,
        params: z.object({ id: storeId }),
        response: {
          200: z.object({
            store_id: z.string(),
            events: z.number(),
            differences: z.number(),
            duration_ms: z.number(),
            tables: z.array(
              z.object({
                table: z.string(),
                count: z.number(),
                onlyLive: z.array(z.unknown()),
                onlyRebuilt: z.array(z.unknown()),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      await requireStore(db, request.params.id);
      const summary = await runSelfCheck(opts.temporal, config, request.params.id);
      const r = summary.results[0]!;
      return {
        store_id: r.storeId,
        events: r.events,
        differences: r.differences,
        duration_ms: r.durationMs,
        tables: r.tables,
      };
    },
  );
};
