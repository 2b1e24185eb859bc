/**
 * Ingest benchmark (goals and figures: docs/benchmarks.md, "Ingest"): POST /sync/push against a raw
 * INSERT of the same event rows into the same PostgreSQL, in one run. Two shapes:
 *
 *   npm run bench:ingest                                      # batches: 4 clients × 100 mixed events per push
 *   npm run bench:ingest -- --batch=1 --clients=50            # tills: 50 devices × one SaleCreated per push
 *   npm run bench:ingest -- --batch=1 --clients=1000 --stores=200   # tills of 200 stores × 5 devices
 *
 * Batch shape (the default): each client a device pushing batches of the POS mix (about half
 * SaleCreated, voids, stock, debts and payments, product/customer/cash events); baseline: the same
 * rows in multi-row INSERTs over as many connections. Till shape (--batch=1): each client a
 * registered device pushing one SaleCreated of 1–3 lines per request in a loop; baseline: the same
 * rows in single-row INSERTs over as many connections (at most --baseline-connections).
 *
 * Options (argv or env): --clients (BENCH_CLIENTS, 4), --batch (BENCH_BATCH, 100 events per push),
 * --stores (BENCH_STORES, 1: clients spread over that many stores, client i in store i mod N),
 * --mix=pos|sales (BENCH_MIX; sales, a till's SaleCreated alone, when --batch=1, else pos),
 * --batches (BENCH_BATCHES, timed pushes per client; default: calibrated from the second half of the
 * warmup so the push phase lasts about --seconds, BENCH_SECONDS, 17), --warmup (BENCH_WARMUP, untimed
 * pushes per client: 20, or 1000/clients for single events, at least 2), --products (BENCH_PRODUCTS,
 * 2000 per store), --observe-every (BENCH_OBSERVE_EVERY, 5: every that many pushes each device
 * learns the clocks of its store's other devices, so vector clocks carry every till of the store; 0:
 * never, one entry per clock), --catalog=shared|per-device (BENCH_CATALOG; per-device is a diagnostic where
 * concurrent pushes never touch the same stock rows), --pool (BENCH_POOL_SIZE, the node's pool:
 * 2 × clients, between 10 and 20, the node's default), --baseline-connections
 * (BENCH_BASELINE_CONNECTIONS: as many as clients, at most 100), --seed (BENCH_SEED), --timeout-ms
 * (BENCH_TIMEOUT_MS, 20000 or 100 ms per client, whichever is more: a slower push fails the run).
 * Diagnostics: --cpu-prof[=DIR] (the API child runs with node --cpu-prof; summarise with
 * `npx tsx bench/cpuprofile-summary.ts DIR/CPU.*.cpuprofile`), --trace-sql (every statement the API
 * child sends through its own pool, timed: bench/lib/sql-trace.ts), --explain=FILE (with the trace,
 * auto_explain ANALYZE of a 10 % sample, median plan per statement to FILE), --sample-waits
 * (pg_stat_activity sampled during the push phase).
 *
 * Steps: fresh database (migrated, dropped at the end even on failure); the API in a child process
 * (bench/lib/node.ts); the stores and one registered device per client; all pushes generated and
 * serialised before timing (bench/lib/workload.ts); push phase (clients in parallel, each sequential
 * over keep-alive HTTP); the API child stopped; correctness check; baseline phase (same rows into
 * events_baseline, no projections). Per phase it prints who used the CPU and the CPU per event of each
 * party; a run where other processes were busy is flagged. Exits non-zero on any error, rejection,
 * duplicate or failed check; a goal MISS is reported, not failed (benchmarks report, tests assert).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ensureServices } from '../scripts/services';
import { cpuMeter, formatPerEvent, formatShares, type CpuGroup } from './lib/cpu';
import {
  backendsOf,
  codeVersion,
  connect,
  createBenchDatabase,
  machineLoad,
  sampleWaits,
  type BenchDatabase,
} from './lib/db';
import { createBaselineTable, baselinePhase } from './lib/baseline';
import { HttpClient } from './lib/http';
import { newTotals, pushAll, type PhaseResult } from './lib/push';
import { startApiNode, type ApiNode } from './lib/node';
import { choice, flag, intOption, option } from './lib/options';
import { percentile, table } from './lib/stats';
import { generate, makeStore, PosDevice, prng, type Store } from './lib/workload';

const NODE_ID = 'node-bench';
const ADMIN_SECRET = `bench-admin-${randomBytes(12).toString('hex')}`;

const clients = intOption('clients', 'BENCH_CLIENTS', 4);
const batch = intOption('batch', 'BENCH_BATCH', 100);
const till = batch === 1;
const opts = {
  clients,
  batch,
  stores: intOption('stores', 'BENCH_STORES', 1),
  mix: choice('mix', 'BENCH_MIX', ['pos', 'sales'] as const, till ? 'sales' : 'pos'),
  batches: intOption('batches', 'BENCH_BATCHES', undefined),
  warmup: intOption(
    'warmup',
    'BENCH_WARMUP',
    till ? Math.max(2, Math.min(20, Math.round(1000 / clients))) : 20,
    2,
  ),
  seconds: intOption('seconds', 'BENCH_SECONDS', 17),
  observeEvery: intOption('observe-every', 'BENCH_OBSERVE_EVERY', 5, 0),
  seed: intOption('seed', 'BENCH_SEED', 42, 0),
  products: intOption('products', 'BENCH_PRODUCTS', 2000),
  catalog: choice('catalog', 'BENCH_CATALOG', ['shared', 'per-device'] as const, 'shared'),
  pool: intOption('pool', 'BENCH_POOL_SIZE', Math.min(20, Math.max(10, clients * 2))),
  baselineConnections: intOption(
    'baseline-connections',
    'BENCH_BASELINE_CONNECTIONS',
    Math.min(clients, 100),
  ),
  cpuProf: option('cpu-prof', 'BENCH_CPU_PROF'),
  traceSql: flag('trace-sql', 'BENCH_TRACE_SQL'),
  explain: option('explain', 'BENCH_EXPLAIN'),
  sampleWaits: flag('sample-waits', 'BENCH_SAMPLE_WAITS'),
  // A closed loop of N clients waits about N / throughput per push: many clients, a longer limit.
  timeoutMs: intOption('timeout-ms', 'BENCH_TIMEOUT_MS', Math.max(20_000, clients * 100)),
};
const genOpts = { mix: opts.mix, originNode: NODE_ID, observeEvery: opts.observeEvery };
if (opts.stores > opts.clients)
  throw new Error(`--stores (${opts.stores}) cannot exceed --clients (${opts.clients})`);

/** Goals per shape, as docs/benchmarks.md states them. */
const GOALS = till
  ? { eventsPerSecond: 2500, ratio: 0.3, p99Ms: 100 as number | undefined }
  : { eventsPerSecond: 5000, ratio: 0.25, p99Ms: undefined as number | undefined };

function report(push: PhaseResult, base: PhaseResult): void {
  const lat = (r: PhaseResult) => [...r.latencies].sort((a, b) => a - b);
  const rows = [push, base].map((r) => [
    r.scenario,
    String(r.events),
    r.seconds.toFixed(2),
    Math.round(r.events / r.seconds).toLocaleString('en-US'),
    ...[50, 95, 99].map((p) => percentile(lat(r), p).toFixed(1)),
    `${(r.bytes / 1e6).toFixed(1)} MB (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s)`,
  ]);
  console.log('');
  console.log(
    table(['scenario', 'events', 'seconds', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'bytes'], rows, {
      style: 'plain',
    }),
  );
  const pushRate = push.events / push.seconds;
  const ratio = pushRate / (base.events / base.seconds);
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  console.log(`\nratio push/baseline = ${(100 * ratio).toFixed(1)} %`);
  console.log(
    `goal push >= ${GOALS.eventsPerSecond.toLocaleString('en-US')} events/s: ${Math.round(pushRate).toLocaleString('en-US')} ` +
      verdict(pushRate >= GOALS.eventsPerSecond),
  );
  console.log(
    `goal push >= ${100 * GOALS.ratio} % of baseline: ${(100 * ratio).toFixed(1)} % ${verdict(ratio >= GOALS.ratio)}`,
  );
  if (GOALS.p99Ms !== undefined) {
    const p99 = percentile(lat(push), 99);
    console.log(`goal push p99 < ${GOALS.p99Ms} ms: ${p99.toFixed(1)} ms ${verdict(p99 < GOALS.p99Ms)}`);
  }
}

/** The stores, declared on the node, and one registered device per client (client i in store i mod N). */
async function setUp(node: ApiNode): Promise<{ devices: PosDevice[]; tokens: string[]; stores: Store[] }> {
  const admin = new HttpClient(node.url, ADMIN_SECRET);
  const rnd = prng(opts.seed);
  const stores = Array.from({ length: opts.stores }, () => makeStore(randomUUID(), rnd, opts.products));
  try {
    for (const [s, store] of stores.entries())
      await admin.json('POST', '/stores', { id: store.id, name: `Bodega Bench ${s + 1}` });
    const devices: PosDevice[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < opts.clients; i++) {
      const store = stores[i % opts.stores]!;
      const deviceId = randomUUID();
      const reg = await admin.json<{ token: string }>('POST', `/stores/${store.id}/devices`, {
        name: `POS ${i + 1}`,
        device_id: deviceId,
      });
      tokens.push(reg.token);
      // Devices of one store: how many, and this one's place among them (its catalog slice).
      const inStore = Math.ceil((opts.clients - (i % opts.stores)) / opts.stores);
      const k = Math.floor(i / opts.stores);
      const slice = store.products.length / inStore;
      const catalog =
        opts.catalog === 'per-device'
          ? store.products.slice(Math.floor(k * slice), Math.floor((k + 1) * slice))
          : store.products;
      devices.push(new PosDevice(store, deviceId, opts.seed * 1000 + i + 1, `cashier-${i + 1}`, catalog));
    }
    return { devices, tokens, stores };
  } finally {
    admin.close();
  }
}

async function main(): Promise<number> {
  const serverUrl = process.env.DATABASE_URL || (await ensureServices()).databaseUrl;
  let database: BenchDatabase | undefined;
  let node: ApiNode | undefined;
  let failed = false;
  const cleanup = async () => {
    await node?.stop().catch((err: unknown) => console.error('stopping the API child:', err));
    node = undefined;
    await database?.drop();
    if (database) console.log(`dropped database ${database.name}`);
    database = undefined;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const runStarted = performance.now();
    database = await createBenchDatabase(serverUrl);
    const check = await connect(database.url);
    try {
      await createBaselineTable(check);
      const v = await check.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      console.log(`database ${database.name} on PostgreSQL ${v.rows[0]!.v}; code ${codeVersion()}`);

      node = await startApiNode({
        databaseUrl: database.url,
        adminSecret: ADMIN_SECRET,
        poolSize: opts.pool,
        cpuProfDir: opts.cpuProf && (opts.cpuProf === 'true' ? 'bench/.profiles' : opts.cpuProf),
        traceSql: opts.traceSql,
        explainFile: opts.explain,
      });
      const { devices, tokens } = await setUp(node);
      console.log(
        `API child pid ${node.child.pid} on ${node.url} (pool ${opts.pool}); ${opts.clients} clients x ${opts.batch} ` +
          `events/push (${opts.mix} mix) over ${opts.stores} store(s), warmup ${opts.warmup} pushes/client, ` +
          `catalog ${opts.catalog} (${opts.products} products per store), clocks observed every ${opts.observeEvery || '-'} pushes`,
      );

      // Warmup pushes, untimed; their second half calibrates the timed push count.
      const warmupTotals = newTotals();
      const warmup = generate(devices, opts.warmup, opts.batch, genOpts);
      const half = Math.floor(opts.warmup / 2);
      const warm = (part: typeof warmup) => pushAll(node!.url, tokens, part, warmupTotals, opts.timeoutMs);
      await warm(warmup.map((w) => w.slice(0, half)));
      const calStart = performance.now();
      await warm(warmup.map((w) => w.slice(half)));
      const calRate =
        ((opts.warmup - half) * opts.clients * opts.batch) / ((performance.now() - calStart) / 1000);
      if (warmupTotals.errors.length > 0)
        throw new Error(`warmup failed: ${warmupTotals.errors.slice(0, 3).join('; ')}`);
      const perClient =
        opts.batches ??
        Math.min(5000, Math.max(20, Math.round((calRate * opts.seconds) / (opts.clients * opts.batch))));

      // Timed pushes, generated and serialised before timing.
      const genStart = performance.now();
      const timed = generate(devices, perClient, opts.batch, genOpts);
      const typeCounts: Record<string, number> = {};
      for (const b of timed.flat())
        for (const [t, n] of Object.entries(b.types)) typeCounts[t] = (typeCounts[t] ?? 0) + n;
      const timedEvents = timed.flat().reduce((s, b) => s + b.events.length, 0);
      console.log(
        `warmup rate ~${Math.round(calRate)} events/s -> ${perClient} timed pushes/client (${timedEvents} events), ` +
          `generated in ${((performance.now() - genStart) / 1000).toFixed(1)} s`,
      );
      console.log(
        'mix: ' +
          Object.entries(typeCounts)
            .sort((a, b) => b[1] - a[1])
            .map(([t, n]) => `${t} ${((100 * n) / timedEvents).toFixed(1)}%`)
            .join(', '),
      );

      // Push phase.
      await check.query('CHECKPOINT');
      console.log(`before push: ${await machineLoad(check, database.name)}`);
      const totals = newTotals();
      const sampler = opts.sampleWaits ? sampleWaits(database.url) : undefined;
      const meter = cpuMeter();
      const t0 = performance.now();
      await pushAll(node.url, tokens, timed, totals, opts.timeoutMs);
      const push: PhaseResult = {
        scenario: 'push (/sync/push)',
        events: totals.accepted,
        seconds: (performance.now() - t0) / 1000,
        latencies: totals.latencies,
        bytes: totals.bytes,
      };
      const groups: CpuGroup[] = [
        { label: 'API child', pids: node.child.pid },
        { label: 'postgres bench backends', pids: await backendsOf(check), postgres: true },
      ];
      const u = meter(groups);
      console.log(
        `push ${formatShares(u, { temporalIsForeign: true })}\n  ${formatPerEvent(u, timedEvents)}`,
      );
      if (sampler) console.log(await sampler.stop());
      const pushFailed = totals.errors.length > 0 || totals.accepted !== timedEvents;
      if (pushFailed) {
        failed = true;
        console.error(
          `push FAILED: ${totals.errors.length} errors, e.g.:\n  ${totals.errors.slice(0, 5).join('\n  ')}`,
        );
        console.error(
          `push: ${totals.accepted} of ${timedEvents} timed events accepted before the phase stopped`,
        );
      }
      // The node is idle from here on: stop it (a failed run kills it and its stuck transactions) so
      // it cannot run work in the background while the baseline is measured.
      await node.stop(pushFailed, check);
      node = undefined;

      // Correctness: every accepted event stored, and projected.
      const sentAll = (opts.warmup + perClient) * opts.clients * opts.batch;
      const salesSent = [...warmup.flat(), ...timed.flat()].reduce(
        (s, b) => s + (b.types.SaleCreated ?? 0),
        0,
      );
      const c = await check.query<{ events: string; unprocessed: string; sales: string }>(
        `SELECT (SELECT count(*) FROM events) AS events,
                (SELECT count(*) FROM events WHERE projection_status <> 'processed') AS unprocessed,
                (SELECT count(*) FROM sales) AS sales`,
      );
      const row = c.rows[0]!;
      const eventsOk = Number(row.events) === sentAll;
      const projectedOk = Number(row.unprocessed) === 0;
      const salesOk = Number(row.sales) === salesSent;
      console.log(
        `check: events in db ${row.events} / sent ${sentAll} (accepted ${warmupTotals.accepted + totals.accepted}) ${eventsOk ? 'OK' : 'MISMATCH'}; ` +
          `projection_status <> 'processed': ${row.unprocessed} ${projectedOk ? 'OK' : 'FAIL'}; ` +
          `sales rows ${row.sales} / SaleCreated sent ${salesSent} ${salesOk ? 'OK' : 'MISMATCH'}`,
      );
      if (!projectedOk) {
        const why = await check.query<{ projection_error: string; n: string }>(
          `SELECT projection_error, count(*) AS n FROM events WHERE projection_status <> 'processed'
           GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
        );
        for (const w of why.rows) console.log(`  ${w.n} x ${w.projection_error}`);
      }
      if (!eventsOk || !projectedOk || !salesOk) failed = true;

      // Baseline. The push left fresh rows for autovacuum: vacuum now, untimed, so it does not run during it.
      await check.query('VACUUM (ANALYZE)');
      await check.query('CHECKPOINT');
      console.log(
        `before baseline: ${await machineLoad(check, database.name)} (${opts.baselineConnections} connections)`,
      );
      const base = await baselinePhase(database.url, opts.baselineConnections, warmup, timed);
      const b = await check.query<{ n: string }>('SELECT count(*) AS n FROM events_baseline');
      if (Number(b.rows[0]!.n) !== sentAll) {
        failed = true;
        console.error(`baseline: ${b.rows[0]!.n} rows, expected ${sentAll}`);
      }
      report(push, base);
    } finally {
      await check.end();
    }
    if (failed)
      console.log('run FAILED (errors, rejections or failed checks above): the figures are not valid');
    console.log(`total run ${((performance.now() - runStarted) / 1000).toFixed(1)} s`);
  } catch (err) {
    failed = true;
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  } finally {
    try {
      await cleanup();
    } catch (err) {
      failed = true;
      console.error(`cleanup failed (database ${database?.name} may remain):`, err);
    }
  }
  return failed ? 1 : 0;
}

void main().then((code) => process.exit(code));
