import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type RouteOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { hashToken } from '../domain/auth/tokens';
import { createOrderFeed } from '../actors/erp/orders';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import type { PushDeps } from '../infra/eventlog/push';
import type { Metrics } from '../infra/metrics';
import type { WorkerCheck } from '../infra/temporal/worker-health';
import { authPlugin } from './plugins/auth';
import { docsPlugin } from './plugins/docs';
import { errorsPlugin } from './plugins/errors';
import { erpRoutes } from './routes/erp';
import { escrowRoutes } from './routes/escrow';
import { federationRoutes } from './routes/federation';
import { federationSyncRoutes } from './routes/federation-sync';
import { healthRoutes } from './routes/health';
import { fiscalRoutes } from './routes/fiscal';
import { opsRoutes } from './routes/ops';
import { dashboardRoutes } from './routes/dashboard';
import { explainRoutes } from './routes/explain';
import { posRoutes } from './routes/pos';
import { reconcileRoutes } from './routes/reconcile';
import { storeQueryRoutes } from './routes/store-queries';
import { storeRoutes } from './routes/stores';
import { syncRoutes } from './routes/sync';

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  metrics: Metrics;
  checkTemporal: () => Promise<void>;
  /** Whether a worker serves the task queue (infra/temporal/worker-health), reported by /healthz. */
  checkWorker: WorkerCheck;
  /** The Temporal client in this node's namespace (federation routes start, signal and query actors). */
  temporal?: Client;
  onEventsCommitted?: (storeIds: string[]) => void;
  /** Called after a push commits sales that used a device range's last number. */
  onFiscalExhausted?: PushDeps['onFiscalExhausted'];
  /** Sees every route as it is registered (the auth matrix test builds its matrix from them). */
  onRoute?: (route: RouteOptions) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Builds the HTTP API; the caller decides whether to listen or to inject (tests). */
export async function buildApp(deps: AppDeps) {
  const { config, db, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: config.PUSH_MAX_BYTES,
    // A slow or stalled client is cut off (408 or closed) instead of holding a socket forever.
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      // Node enforces both timeouts by sweeping its connections this often (30 s by default, which
      // would let a slowloris hold a socket up to 30 s past its budget).
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(config.HTTP_HEADERS_TIMEOUT_MS / 4)),
      ),
    },
    // Fastify's router refuses a path parameter over 100 characters with its own 414 before any
    // schema sees it; every parameter has its own bound in its schema (a 400 naming it), so the
    // router only stops absurd ones.
    routerOptions: { maxParamLength: 2048 },
    // Per-address budgets (failed authentication) need the real client behind a load balancer.
    trustProxy: config.TRUST_PROXY,
    requestIdHeader: 'x-request-id',
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);
  // The API speaks JSON only; anything else is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(errorsPlugin);
  await app.register(helmet, { global: true });
  await app.register(cors, {
    origin: config.CORS_ORIGINS.length > 0 ? config.CORS_ORIGINS : false,
    allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'x-api-key', 'x-correlation-id'],
    exposedHeaders: ['x-request-id', 'x-correlation-id'],
  });
  await app.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    // One budget per credential (a shop's devices behind one NAT keep separate budgets). Bogus
    // credentials are held back before this by the auth plugin's per-address failure budget.
    keyGenerator: (req) => {
      const auth = req.headers.authorization;
      return auth ? `t:${hashToken(auth)}` : `ip:${req.ip}`;
    },
  });
  if (config.DOCS_ENABLED) await app.register(docsPlugin, { nodeId: config.NODE_ID });
  await app.register(authPlugin, { config, db });

  await app.register(opsRoutes, {
    db,
    metrics,
    probeCacheMs: config.HEALTHZ_PROBE_CACHE_MS,
    checkTemporal: deps.checkTemporal,
    checkWorker: deps.checkWorker,
  });
  await app.register(storeRoutes, { db });
  await app.register(storeQueryRoutes, { config, db });
  await app.register(explainRoutes, { config, db });
  // The ERP bridge's order producer after each push (the POS ingest only says "events committed";
  // the ERP side reads the sales from the log itself, and the order sweep backs this step up). On a
  // node with no store mapped to a vendor a push costs no producer transaction (a cached check).
  const erpOrderFeed = deps.temporal
    ? createOrderFeed({
        client: deps.temporal,
        db,
        config,
        log: deps.log,
        onJobs: (n) => metrics.erpOrderJobs.inc({ event: 'created' }, n),
      })
    : undefined;
  if (erpOrderFeed) app.addHook('onClose', () => erpOrderFeed.idle());
  await app.register(syncRoutes, {
    config,
    db,
    metrics,
    onEventsCommitted: (storeIds) => {
      deps.onEventsCommitted?.(storeIds);
      erpOrderFeed?.nudge();
    },
    onFiscalExhausted: deps.onFiscalExhausted,
  });
  await app.register(federationRoutes, { config, db, temporal: deps.temporal });
  await app.register(federationSyncRoutes, { db });
  await app.register(reconcileRoutes, { config, db, temporal: deps.temporal });
  await app.register(escrowRoutes, {
    config,
    db,
    temporal: deps.temporal,
    onEventsCommitted: deps.onEventsCommitted,
  });
  await app.register(healthRoutes, { config, db, temporal: deps.temporal });
  await app.register(fiscalRoutes, {
    config,
    db,
    log: deps.log,
    temporal: deps.temporal,
    onEventsCommitted: deps.onEventsCommitted,
  });
  // The POS page's static files (public; its API calls carry the device token).
  await app.register(posRoutes, { dir: config.POS_DIR });
  // The operators' dashboard (public files; its API calls carry the admin secret as a bearer).
  await app.register(dashboardRoutes, { dir: config.DASHBOARD_DIR });
  await app.register(erpRoutes, {
    config,
    db,
    metrics,
    temporal: deps.temporal,
    checkTemporal: deps.checkTemporal,
    onStoreVendorsChanged: () => erpOrderFeed?.mappingsChanged(),
  });
  return app;
}
