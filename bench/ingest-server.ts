/**
 * The node's HTTP API alone, for bench/ingest.ts (started by bench/lib/node.ts): run as a child
 * process so the load generator and the node do not share an event loop. The product's own pieces,
 * wired as app/node.ts wires them: the config schema, createDb with the config's pool options,
 * buildApp. Temporal is not on the push path, so the relay nudge is left out. Prints
 * `LISTENING <port>` on stdout once ready and shuts down cleanly (so `--cpu-prof` can write its
 * profile) when its stdin closes or on SIGTERM/SIGINT.
 *
 * Env: the node's own settings (infra/config.ts, e.g. DB_CONNECT_TIMEOUT_MS) as the node reads them,
 * except these, set by the bench: DATABASE_URL (the bench database, already migrated), BENCH_ADMIN_SECRET, BENCH_POOL_SIZE,
 * BENCH_TRACE_SQL=1 (time every statement this process sends, below the node's pool: bench/lib/
 * sql-trace.ts; summary on stderr at exit), BENCH_EXPLAIN=FILE (with the trace: auto_explain ANALYZE
 * of a BENCH_EXPLAIN_RATE sample of the statements, median plan per statement to FILE on exit).
 */
import pino from 'pino';
import { buildApp } from '../api/app';
import { configSchema } from '../infra/config';
import { createDb, dbOptions } from '../infra/db';
import { createMetrics } from '../infra/metrics';
import { installSqlTrace } from './lib/sql-trace';

async function main(): Promise<void> {
  // Node settings from the environment (DB_CONNECT_TIMEOUT_MS, …) apply; these below are the bench's.
  const fromEnv = Object.fromEntries(Object.keys(configSchema.shape).map((k) => [k, process.env[k]]));
  const config = Object.freeze(
    configSchema.parse({
      ...fromEnv,
      NODE_ID: 'node-bench',
      DATABASE_URL: process.env.DATABASE_URL,
      DATABASE_POOL_SIZE: process.env.BENCH_POOL_SIZE ?? '20',
      ADMIN_SECRET: process.env.BENCH_ADMIN_SECRET,
      LOG_LEVEL: 'silent',
      // The bench pushes far more than a device would: keep the limiter out of the measurement.
      RATE_LIMIT_MAX: '100000000',
      HOST: '127.0.0.1',
      PORT: '0',
    }),
  );
  const explainFile = process.env.BENCH_EXPLAIN || '';
  const trace =
    process.env.BENCH_TRACE_SQL === '1' || explainFile !== ''
      ? installSqlTrace({ explainFile, explainRate: Number(process.env.BENCH_EXPLAIN_RATE ?? '0.1') })
      : undefined;
  const db = createDb(config.DATABASE_URL, dbOptions(config));
  const app = await buildApp({
    config,
    db,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    checkTemporal: () => Promise.resolve(),
    checkWorker: () => Promise.resolve(),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    await db.destroy();
    trace?.report();
    process.exit(0);
  };
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdout.write(`LISTENING ${address.port}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ingest-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
