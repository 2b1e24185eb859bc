import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cachedCheck } from '../../infra/cached-check';
import { pingDatabase, type Db } from '../../infra/db';
import type { Metrics } from '../../infra/metrics';
import type { WorkerCheck } from '../../infra/temporal/worker-health';
import { withTimeout } from '../../infra/timeout';

export interface OpsRoutesOptions {
  db: Db;
  metrics: Metrics;
  /** Resolves when the Temporal frontend answers; rejects otherwise. */
  checkTemporal: () => Promise<void>;
  /** Resolves when a worker serves this node's task queue (this process's, or any that polls it). */
  checkWorker: WorkerCheck;
  /** How long the PostgreSQL and Temporal answers are reused (HEALTHZ_PROBE_CACHE_MS). */
  probeCacheMs: number;
}

const CHECK_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<unknown>): Promise<'ok' | string> {
  try {
    await withTimeout(check(), CHECK_TIMEOUT_MS, `no answer within ${CHECK_TIMEOUT_MS} ms`);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export const opsRoutes: FastifyPluginAsyncZod<OpsRoutesOptions> = async (app, opts) => {
  // /healthz is public and not rate limited: its probes are shared for a short window so that a
  // flood costs PostgreSQL and Temporal one call per window (the worker check caches on its own).
  const postgresProbe = cachedCheck(() => probe(() => pingDatabase(opts.db)), opts.probeCacheMs);
  const temporalProbe = cachedCheck(() => probe(opts.checkTemporal), opts.probeCacheMs);
  const checkSchema = z.object({
    status: z.enum(['ok', 'degraded']),
    checks: z.object({ postgres: z.string(), temporal: z.string(), worker: z.string() }),
  });

  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['operations'],
        summary:
          'Liveness and dependencies: PostgreSQL and Temporal reachable, a worker serving the task queue (no token needed)',
        response: { 200: checkSchema, 503: checkSchema },
      },
    },
    async (_request, reply) => {
      const [postgres, temporal, worker] = await Promise.all([
        postgresProbe(),
        temporalProbe(),
        probe(opts.checkWorker),
      ]);
      const ok = postgres === 'ok' && temporal === 'ok' && worker === 'ok';
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'degraded', checks: { postgres, temporal, worker } });
    },
  );

  app.get(
    '/metrics',
    {
      config: { rateLimit: false },
      schema: { tags: ['operations'], summary: 'Prometheus metrics (no token needed)', hide: false },
    },
    async (_request, reply) => {
      const body = await opts.metrics.registry.metrics();
      return reply.type(opts.metrics.registry.contentType).send(body);
    },
  );
};
