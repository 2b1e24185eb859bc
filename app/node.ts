import type { Worker } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { buildApp } from '../api/app';
import { loadConfig, type Config } from '../infra/config';
import { createDb, dbOptions, MAINTENANCE_DB_OPTIONS, migrateToLatest } from '../infra/db';
import { createMetrics } from '../infra/metrics';
import { serveMetrics } from '../infra/metrics-server';
import { connectTemporal } from '../infra/temporal/client';
import { installTemporalRuntime } from '../infra/temporal/logging';
import { assertNamespaceIsOurs } from '../actors/namespace-guard';
import { ensureSearchAttributes } from '../infra/temporal/search-attributes';
import { createRelayNudger, ensureRelays } from '../actors/relay';
import { ensureSchedules } from '../actors/schedules';
import { createFiscalExhaustionSignaller } from '../actors/fiscal';
import { ensureErpSchedules } from '../actors/erp/schedules';
import { connectWorker, createNodeWorker } from './worker';
import { taskQueuePollerCheck, workerStateCheck } from '../infra/temporal/worker-health';

export function createLogger(config: Config): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { node: config.NODE_ID },
    // Tokens and secrets never reach the logs, whatever a serializer picks up.
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.token',
        'token',
        'ADMIN_SECRET',
        'PEERS',
      ],
      censor: '[redacted]',
    },
  });
}

export interface RunningNode {
  url: string | null;
  /** A worker-only process's /metrics and /healthz listener (WORKER_METRICS_PORT), if any. */
  metricsUrl: string | null;
  stop(): Promise<void>;
}

/**
 * Wires one node process from validated config: migrations, then the roles asked for — the HTTP API,
 * the Temporal worker (with its schedules), or both (the local default). Refuses to start in a
 * Temporal namespace that already serves another node.
 */
export async function startNode(config: Config, log: Logger = createLogger(config)): Promise<RunningNode> {
  // Migrations run on a connection of their own, without the request timeouts.
  const migrator = createDb(config.DATABASE_URL, MAINTENANCE_DB_OPTIONS);
  try {
    await migrateToLatest(migrator);
  } finally {
    await migrator.destroy();
  }
  log.info('database migrated');

  // Temporal's own logs go through pino; shutdown order (API, then worker, then connections) is ours.
  installTemporalRuntime(log, { shutdownSignals: [] });
  const temporal = await connectTemporal(config);
  const db = createDb(config.DATABASE_URL, dbOptions(config));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops) await s();
    await temporal.connection.close();
    await db.destroy();
  };
  let url: string | null = null;
  let metricsUrl: string | null = null;
  // One registry per process: the worker's activities count into the same one the API serves.
  const metrics = createMetrics();

  try {
    await assertNamespaceIsOurs(temporal.client, config);
    let checkWorker = taskQueuePollerCheck(temporal.client, {
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
    });

    if (config.ROLES.has('worker')) {
      const connection = await connectWorker(config);
      stops.push(() => connection.close());
      const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
      if (added.length > 0) log.info({ added }, 'registered search attributes');
      const worker: Worker = await createNodeWorker({ config, db, log, connection, metrics });
      // Running before the relays are ensured: an old relay answers a query while handing over.
      const running = worker.run();
      running.catch((err: unknown) => log.fatal({ err }, 'temporal worker stopped'));
      stops.unshift(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
      });
      checkWorker = workerStateCheck(worker, config.TEMPORAL_TASK_QUEUE);
      await ensureSchedules(temporal.client, config, log);
      await ensureErpSchedules(temporal.client, config);
      await ensureRelays(temporal.client, config, log);
      log.info(
        { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE },
        'temporal worker running',
      );
      if (!config.ROLES.has('api') && config.WORKER_METRICS_PORT > 0) {
        const server = await serveMetrics({
          registry: metrics.registry,
          port: config.WORKER_METRICS_PORT,
          host: config.HOST,
          check: checkWorker,
        });
        stops.unshift(() => server.close());
        metricsUrl = server.url;
        log.info({ metrics: `${server.url}/metrics` }, 'worker metrics listening');
      }
    }

    if (config.ROLES.has('api')) {
      const app = await buildApp({
        config,
        db,
        log,
        metrics,
        temporal: temporal.client,
        onEventsCommitted:
          config.PEERS.length > 0 ? createRelayNudger(temporal.client, config, log) : undefined,
        onFiscalExhausted: createFiscalExhaustionSignaller(temporal.client, config, log),
        checkTemporal: async () => {
          await temporal.connection.healthService.check({});
        },
        checkWorker,
      });
      stops.unshift(() => app.close());
      url = await app.listen({ port: config.PORT, host: config.HOST });
    }
  } catch (err) {
    await stop().catch((stopErr: unknown) =>
      log.error({ err: stopErr }, 'cleanup after a failed start failed'),
    );
    throw err;
  }

  return { url, metricsUrl, stop };
}

/** Process entry: parse config (ROLES may be forced by the entrypoint), start, stop on signals. */
export function runMain(roles?: 'api' | 'worker'): void {
  const boot = async () => {
    const config = loadConfig(roles ? { ...process.env, ROLES: roles } : process.env);
    const log = createLogger(config);
    const node = await startNode(config, log);
    if (node.url) log.info({ api: node.url, docs: `${node.url}/docs` }, 'velox node ready');
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      setTimeout(() => {
        log.error('shutdown did not finish within 30 s; exiting anyway');
        process.exit(1);
      }, 30_000).unref();
      node.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  };
  boot().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
