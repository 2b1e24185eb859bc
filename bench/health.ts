/**
 * Health benchmark (docs/benchmarks.md, "Health"): the health endpoint's report with a large event log,
 * and the projection self-check's time per 100k events, each against a baseline measured in the same
 * run on the same data.
 *
 *   npm run bench:health [-- --events=1000000 --self-check-events=100000 --requests=30]
 *
 * Setup: a fresh database; one store with --events SaleCreated events of 1 line each over 4 devices
 * and 50 products, projected as the node projects them (sales, lines, movements, stock), written set-
 * wise by SQL so the setup takes seconds, not the benchmark's subject; a second store with
 * --self-check-events events for the self-check. Health: `buildHealthReport` (actors/health.ts) as
 * the route calls it, --requests times, without peers or Temporal (those parts are one query and one
 * probe each, not data-sized). Baseline: `SELECT count(*)` of the store's events — the least any check
 * over the whole log costs. Self-check: `selfCheckStore` (infra/projections/self-check.ts) against the
 * baseline of reading the same events in node_seq order.
 */
import pino from 'pino';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { createDb, type Db } from '../infra/db';
import { buildHealthReport } from '../actors/health';
import { selfCheckStore } from '../infra/projections/self-check';
import { ingestEvents } from '../infra/eventlog/ingest';
import { DeviceSim } from '../test/support/events';
import { ensureServices } from '../scripts/services';
import { createBenchDatabase, machineLoad, connect, codeVersion } from './lib/db';
import { intOption } from './lib/options';
import { ms, summary, table } from './lib/stats';

const opts = {
  events: intOption('events', 'BENCH_EVENTS', 1_000_000, 1),
  selfCheckEvents: intOption('self-check-events', 'BENCH_SELF_CHECK_EVENTS', 100_000, 1),
  requests: intOption('requests', 'BENCH_REQUESTS', 30, 1),
};
const GOAL_P95_MS = 100;
const STORE = '4ea17000-0000-4000-8000-000000000001';
const SELF_CHECK_STORE = '4ea17000-0000-4000-8000-000000000002';
const log = pino({ level: 'silent' });

/** A store's log of n projected sales, written set-wise. */
async function seedStore(db: Db, storeId: string, n: number): Promise<void> {
  await sql`INSERT INTO stores (id, name) VALUES (${storeId}, 'Bench store')`.execute(db);
  await sql`
    INSERT INTO events (event_id, store_id, device_id, seq, type, vector_clock, payload, full_payload_hash,
      created_at, hlc, origin_node, source, projection_status)
    SELECT md5(${storeId} || 'e' || i)::uuid, ${storeId}, 'bench-dev-' || (i % 4), i / 4 + 1, 'SaleCreated',
      jsonb_build_object('bench-dev-' || (i % 4), i / 4 + 1),
      jsonb_build_object('sale_id', md5(${storeId} || 's' || i)::uuid, 'items',
        jsonb_build_array(jsonb_build_object('product_id', md5('p' || (i % 50))::uuid, 'qty', 1, 'unit_price', 2.5))),
      md5('h' || i), t, t, 'bench', 'device', 'processed'
    FROM generate_series(0, ${n - 1}) AS i,
      LATERAL (SELECT timestamptz '2026-01-01' + i * interval '10 seconds' AS t) x`.execute(db);
  await sql`
    INSERT INTO sales (id, store_id, device_id, event_id, warehouse_id, total, sold_at)
    SELECT (payload->>'sale_id')::uuid, store_id, device_id, event_id, store_id, 2.5, created_at
    FROM events WHERE store_id = ${storeId}`.execute(db);
  await sql`
    INSERT INTO sale_items (sale_id, line_no, store_id, product_id, qty, unit_price, line_total)
    SELECT (payload->>'sale_id')::uuid, 0, store_id, (payload->'items'->0->>'product_id')::uuid, 1, 2.5, 2.5
    FROM events WHERE store_id = ${storeId}`.execute(db);
  await sql`
    INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
    SELECT event_id, 0, store_id, store_id, (payload->'items'->0->>'product_id')::uuid, -1, 'sale', created_at
    FROM events WHERE store_id = ${storeId}`.execute(db);
  // Stock received for every product first, so the store is healthy apart from what is measured.
  await sql`
    INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
    SELECT md5(${storeId} || 'r' || p)::uuid, 0, ${storeId}, ${storeId}, md5('p' || p)::uuid, ${n}, 'receipt', timestamptz '2025-12-31'
    FROM generate_series(0, 49) AS p`.execute(db);
  await sql`
    INSERT INTO warehouse_stock (store_id, warehouse_id, product_id, stock)
    SELECT store_id, warehouse_id, product_id, sum(qty_delta) FROM stock_movements
    WHERE store_id = ${storeId} GROUP BY 1, 2, 3`.execute(db);
}

/** A store's log of n sales written through the node's own ingest, so its read models are exactly the projection's. */
async function ingestStore(db: Db, storeId: string, n: number): Promise<void> {
  await sql`INSERT INTO stores (id, name) VALUES (${storeId}, 'Self-check store')`.execute(db);
  const devices = Array.from({ length: 4 }, (_, k) => new DeviceSim(storeId, `bench-dev-${k}`));
  const products = Array.from(
    { length: 50 },
    (_, k) => `4ea17000-0000-4000-8000-${String(k).padStart(12, '0')}`,
  );
  const receipts = products.map((product_id) => devices[0]!.event('StockReceived', { product_id, qty: n }));
  await ingestEvents(db, receipts, { nodeId: 'bench', source: 'device' }, log);
  for (let from = 0; from < n; from += 500) {
    const batch = Array.from({ length: Math.min(500, n - from) }, (_, j) =>
      devices[(from + j) % 4]!.event('SaleCreated', {
        sale_id: crypto.randomUUID(),
        items: [{ product_id: products[(from + j) % 50]!, qty: 1, unit_price: 2.5 }],
      }),
    );
    await ingestEvents(db, batch, { nodeId: 'bench', source: 'device' }, log);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function main(): Promise<void> {
  const { databaseUrl } = await ensureServices({ log: () => undefined });
  const bench = await createBenchDatabase(databaseUrl, 'velox_bench_health');
  const db = createDb(bench.url, 4);
  try {
    const [seedMs] = await timed(async () => {
      // The seed's set-wise statements over a million rows outlast the node's statement timeout.
      await db.transaction().execute(async (trx) => {
        await sql`SET LOCAL statement_timeout = 0`.execute(trx);
        await seedStore(trx as unknown as Db, STORE, opts.events);
      });
      await sql`ANALYZE`.execute(db);
      await ingestStore(db, SELF_CHECK_STORE, opts.selfCheckEvents);
    });
    process.stdout.write(`seeded ${opts.events} + ${opts.selfCheckEvents} events in ${ms(seedMs)} ms\n`);
    const config = { NODE_ID: 'bench', PEERS: [] };

    // Warm both paths once (plans, caches), then alternate them so drift hits both alike.
    await buildHealthReport({ db, config }, STORE);
    const health: number[] = [];
    const baseline: number[] = [];
    let report: Awaited<ReturnType<typeof buildHealthReport>> | undefined;
    for (let i = 0; i < opts.requests; i++) {
      const [b] = await timed(() => sql`SELECT count(*) FROM events WHERE store_id = ${STORE}`.execute(db));
      baseline.push(b);
      const [h, r] = await timed(() => buildHealthReport({ db, config }, STORE));
      health.push(h);
      report = r;
    }
    const hs = summary(health);
    const bs = summary(baseline);

    const [readMs] = await timed(() =>
      sql`SELECT * FROM events WHERE store_id = ${SELF_CHECK_STORE} ORDER BY node_seq`.execute(db),
    );
    const [checkMs, check] = await timed(() => selfCheckStore(db, log, SELF_CHECK_STORE));
    const per100k = (v: number, n: number) => (v * 100_000) / n;

    const c = await connect(bench.url);
    const load = await machineLoad(c, bench.name);
    await c.end();
    process.stdout.write(
      `\n${codeVersion()}; ${load}\n\n` +
        table(
          ['health report', 'n', 'p50 ms', 'p95 ms', 'max ms'],
          [
            [
              `buildHealthReport, ${opts.events.toLocaleString('en')} events`,
              String(hs.n),
              ms(hs.p50),
              ms(hs.p95),
              ms(hs.max),
            ],
            ['baseline: count(*) of the store’s events', String(bs.n), ms(bs.p50), ms(bs.p95), ms(bs.max)],
          ],
        ) +
        `\noverall ${report?.overallHealth}, gaps ${report?.metrics.projectionGapCount}, divergent ${report?.metrics.stockDivergenceCount}` +
        `\ngoal p95 < ${GOAL_P95_MS} ms: ${hs.p95 < GOAL_P95_MS ? 'met' : 'MISSED'} (${(hs.p95 / bs.p95).toFixed(1)}× the baseline)\n\n` +
        table(
          ['self-check', 'events', 'ms', 'ms per 100k events'],
          [
            [
              'selfCheckStore (rebuild in scratch schema + diff)',
              String(check.events),
              ms(checkMs),
              ms(per100k(checkMs, check.events)),
            ],
            [
              'baseline: read the same events in order',
              String(check.events),
              ms(readMs),
              ms(per100k(readMs, check.events)),
            ],
          ],
        ) +
        `\ndifferences found: ${check.differences} (a clean store: must be 0)\n`,
    );
    if (check.differences !== 0) process.exitCode = 1;
  } finally {
    await db.destroy();
    await bench.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
