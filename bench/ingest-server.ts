/**
 * The node's HTTP API alone, for bench/ingest.ts: run as a child process so the load generator and
 * the node do not share an event loop. Prints `LISTENING <port>` on stdout once ready and shuts down
 * cleanly (so `--cpu-prof` can write its profile) when its stdin closes or on SIGTERM/SIGINT.
 *
 * Env: DATABASE_URL (the bench database, already migrated), BENCH_ADMIN_SECRET, BENCH_POOL_SIZE,
 * BENCH_TRACE_SQL=1 (time every statement through Kysely's query log and print a summary on exit:
 * a bench-side profiler that leaves the node's code untouched), BENCH_EXPLAIN=FILE (with the trace: load
 * auto_explain on every connection, EXPLAIN ANALYZE a sample of the statements, and write the plan
 * of the median-duration sample of each statement to FILE on exit).
 */
import fs from 'node:fs';
import { Kysely, PostgresDialect, type LogEvent } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { buildApp } from '../api/app';
import { configSchema } from '../infra/config';
import { createDb, type Db } from '../infra/db';
import type { Database } from '../infra/db/schema';
import { createMetrics } from '../infra/metrics';

interface StatementStat {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** A statement's identity for the trace: its text with whitespace collapsed, cut short. */
function statementKey(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 110);
}

async function main(): Promise<void> {
  const config = Object.freeze(
    configSchema.parse({
      NODE_ENV: 'production',
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
  const trace = process.env.BENCH_TRACE_SQL === '1' || explainFile !== '';
  const stats = new Map<string, StatementStat>();
  const plans = new Map<string, { ms: number; plan: string }[]>();
  let db: Db;
  if (trace) {
    // Same pool as createDb, plus Kysely's per-query log (duration measured by Kysely around pg).
    const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
    pool.on('error', () => undefined);
    if (explainFile) {
      pool.on('connect', (client) => {
        client.on('notice', (msg) => {
          const m = /^duration: ([\d.]+) ms\s+plan:\n([\s\S]*)$/.exec(msg.message ?? '');
          if (!m) return;
          const text = /Query Text: ([\s\S]*?)\n\S/.exec(m[2]!)?.[1] ?? m[2]!;
          const key = statementKey(text);
          const list = plans.get(key) ?? [];
          if (list.length < 2000) list.push({ ms: Number(m[1]), plan: m[2]! });
          plans.set(key, list);
        });
        client
          .query(
            `LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
             SET auto_explain.log_buffers = on; SET auto_explain.log_level = 'notice';
             SET auto_explain.sample_rate = ${Number(process.env.BENCH_EXPLAIN_RATE ?? '0.1')};
             SET client_min_messages = 'notice'`,
          )
          .catch((err: unknown) => process.stderr.write(`auto_explain: ${String(err)}\n`));
      });
    }
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event: LogEvent) => {
        const key = statementKey(event.query.sql);
        const s = stats.get(key) ?? { count: 0, totalMs: 0, maxMs: 0 };
        s.count++;
        s.totalMs += event.queryDurationMillis;
        s.maxMs = Math.max(s.maxMs, event.queryDurationMillis);
        stats.set(key, s);
      },
    });
  } else {
    db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  }

  const app = await buildApp({
    config,
    db,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    // Temporal is not on the push path; the relay nudge is left out (no onEventsCommitted).
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
    if (trace) printTrace(stats);
    if (explainFile) writePlans(explainFile, plans);
    process.exit(0);
  };
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdout.write(`LISTENING ${address.port}\n`);
}

function writePlans(file: string, plans: Map<string, { ms: number; plan: string }[]>): void {
  const out: string[] = [];
  const median = (list: { ms: number; plan: string }[]) =>
    [...list].sort((a, b) => a.ms - b.ms)[Math.floor(list.length / 2)]!;
  const entries = [...plans.entries()].map(([key, list]) => {
    const q = Math.max(1, Math.floor(list.length / 4));
    // Samples arrive in run order: the first and last quarter show whether a statement slows down as tables grow.
    return {
      key,
      n: list.length,
      median: median(list),
      first: median(list.slice(0, q)),
      last: median(list.slice(-q)),
    };
  });
  for (const e of entries.sort((a, b) => b.median.ms - a.median.ms)) {
    out.push(
      `=== ${e.key}\n--- median of ${e.n} sampled: ${e.median.ms.toFixed(2)} ms ` +
        `(first quarter ${e.first.ms.toFixed(2)} ms, last quarter ${e.last.ms.toFixed(2)} ms)\n${e.median.plan}\n`,
    );
  }
  fs.writeFileSync(file, out.join('\n'));
  process.stderr.write(`auto_explain: ${entries.length} statement plans written to ${file}\n`);
}

function printTrace(stats: Map<string, StatementStat>): void {
  const rows = [...stats.entries()].sort((a, b) => b[1].totalMs - a[1].totalMs);
  const total = rows.reduce((s, [, v]) => s + v.totalMs, 0);
  const lines = ['SQL trace (client-side, includes lock waits and round trip):'];
  lines.push(
    `${'total ms'.padStart(9)} ${'share'.padStart(6)} ${'count'.padStart(7)} ${'avg ms'.padStart(7)} ${'max ms'.padStart(7)}  statement`,
  );
  for (const [key, v] of rows) {
    lines.push(
      `${v.totalMs.toFixed(0).padStart(9)} ${((100 * v.totalMs) / total).toFixed(1).padStart(5)}% ${String(v.count).padStart(7)} ` +
        `${(v.totalMs / v.count).toFixed(2).padStart(7)} ${v.maxMs.toFixed(1).padStart(7)}  ${key}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ingest-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
