/**
 * Ingest benchmark (ARCHITECTURE.md §2 "Speed"): POST /sync/push against a raw multi-row INSERT of
 * the same event rows into the same PostgreSQL, in one run.
 *
 *   npm run bench:ingest [-- --clients=4 --batch=100 --batches=N --warmup=20 --seconds=17]
 *
 * Options (argv or env): --clients (BENCH_CLIENTS, 4), --batch (BENCH_BATCH, 100 events per push),
 * --batches (BENCH_BATCHES, timed batches per client; default: calibrated from the second half of
 * the warmup so the push phase lasts about --seconds, BENCH_SECONDS, 17), --warmup (BENCH_WARMUP,
 * 20 untimed batches per client), --seed (BENCH_SEED), --timeout-ms (BENCH_TIMEOUT_MS, 20000: a
 * slower push fails the run), --catalog=shared|per-device (BENCH_CATALOG; shared is the realistic
 * default, per-device is a diagnostic where concurrent pushes never touch the same stock rows).
 * Diagnostics: --cpu-prof=DIR (the API child runs with node --cpu-prof; summarise with
 * `npx tsx bench/cpuprofile-summary.ts DIR/CPU.*.0.001.cpuprofile`), --trace-sql (the API child
 * times every statement), --explain=FILE (auto_explain ANALYZE of a 10 % sample, median plan per
 * statement to FILE), --sample-waits (pg_stat_activity sampled during the push phase).
 *
 * Steps: fresh database velox_bench_<random> (migrated, dropped at the end even on failure); the API
 * in a child process (bench/ingest-server.ts) so load generator and node do not share an event loop;
 * one store, one device per client; all batches generated and serialised before timing; push phase
 * (clients in parallel, each sequential over keep-alive HTTP); the API child stopped; correctness
 * check; baseline phase (same rows, plain multi-row INSERT into events_baseline, same number of
 * connections, no projections). Per phase it prints who used the CPU (load generator, API child,
 * PostgreSQL, other processes): a run where other processes were busy is flagged as unreliable.
 * Exits non-zero on any error, rejection, duplicate or failed check; a goal MISS is reported, not
 * failed (benchmarks report, tests assert).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDb, migrateToLatest } from '../infra/db';
import { hashPayload } from '../domain/events/hash';
import { ensureServices } from '../scripts/services';
import { option, percentile, procTicks } from './common';

const ROOT = path.resolve(__dirname, '..');
const NODE_ID = 'node-bench';
const ADMIN_SECRET = `bench-admin-${randomBytes(12).toString('hex')}`;
const GOAL_EVENTS_PER_SECOND = 5000;
const GOAL_RATIO = 0.4;

// ---------------------------------------------------------------------------------------------
// Options

function intOption(name: string, env: string, fallback: number, min = 1): number {
  const raw = option(name, env);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} (${env}) must be an integer >= ${min}, got ${raw}`);
  return n;
}

const opts = {
  clients: intOption('clients', 'BENCH_CLIENTS', 4),
  batch: intOption('batch', 'BENCH_BATCH', 100),
  batches: option('batches', 'BENCH_BATCHES') ? intOption('batches', 'BENCH_BATCHES', 0) : undefined,
  warmup: intOption('warmup', 'BENCH_WARMUP', 20, 2),
  seconds: intOption('seconds', 'BENCH_SECONDS', 17),
  seed: intOption('seed', 'BENCH_SEED', 42, 0),
  cpuProf: option('cpu-prof', 'BENCH_CPU_PROF'),
  traceSql: ['1', 'true'].includes(option('trace-sql', 'BENCH_TRACE_SQL') ?? ''),
  /** FILE: EXPLAIN ANALYZE a sample of the node's statements (auto_explain), median plans to FILE. */
  explain: option('explain', 'BENCH_EXPLAIN'),
  /** Poll pg_stat_activity during the push phase: where the node's backends spend their time. */
  sampleWaits: ['1', 'true'].includes(option('sample-waits', 'BENCH_SAMPLE_WAITS') ?? ''),
  /**
   * shared (default, realistic): every device sells from the whole catalog, so concurrent pushes
   * touch the same stock rows. per-device (diagnostic): each device sells its own slice of the
   * catalog, so concurrent pushes never touch the same stock row.
   */
  catalog: option('catalog', 'BENCH_CATALOG') ?? 'shared',
  /** A push slower than this is a failure (and stops the phase): the bench must end, whatever the node does. */
  timeoutMs: intOption('timeout-ms', 'BENCH_TIMEOUT_MS', 20_000),
};

if (!['shared', 'per-device'].includes(opts.catalog))
  throw new Error(`--catalog must be shared or per-device, got ${opts.catalog}`);

/** The PostgreSQL server for the bench database: DATABASE_URL, else the local one (started if needed). */
let serverUrl = process.env.DATABASE_URL ?? '';

/**
 * Samples pg_stat_activity every 20 ms for the node's backends in the bench database until stopped:
 * per (state, wait event, statement) the share of backend-samples, i.e. where the backends spend time.
 */
function sampleWaits(url: string): { stop(): Promise<string> } {
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const done = (async () => {
    const c = await connect(url);
    try {
      while (running) {
        const r = await c.query<{ state: string; wait: string | null; query: string }>(
          `SELECT state, wait_event_type || ':' || wait_event AS wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
           FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        );
        samples++;
        for (const row of r.rows) {
          const key =
            row.state === 'active'
              ? `active  ${(row.wait ?? 'CPU').padEnd(28)} ${row.query.trim()}`
              : `${row.state.padEnd(7)} ${(row.wait ?? '').padEnd(28)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      const lines = [
        `pg_stat_activity, ${samples} samples of the node's backends (avg backends per sample):`,
      ];
      for (const [k, n] of [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
        lines.push(`${(n / samples).toFixed(2).padStart(6)}  ${k}`);
      }
      return lines.join('\n');
    },
  };
}

/**
 * Who used the CPU during a phase: this load generator, the API child, the PostgreSQL backends
 * serving the bench database, the rest of PostgreSQL (WAL writer, checkpointer, autovacuum, other
 * databases) and everything else on the machine (other people's work makes a phase unfair).
 */
function cpuMeter() {
  const start = procTicks();
  const t0 = performance.now();
  return (groups: { node?: number; pgBench: number[]; events?: number }): string => {
    const end = procTicks();
    const seconds = (performance.now() - t0) / 1000;
    const used = { bench: 0, node: 0, pgBench: 0, pgOther: 0, other: 0 };
    const pgBench = new Set(groups.pgBench);
    for (const [pid, e] of end) {
      const d = e.ticks - (start.get(pid)?.ticks ?? 0);
      if (d <= 0) continue;
      if (pid === process.pid) used.bench += d;
      else if (pid === groups.node) used.node += d;
      else if (pgBench.has(pid)) used.pgBench += d;
      else if (e.comm.startsWith('postgres')) used.pgOther += d;
      else used.other += d;
    }
    const cores = os.cpus().length;
    const pct = (ticks: number) => `${((100 * ticks) / 100 / seconds / cores).toFixed(0)}%`;
    const warn =
      used.other / 100 / seconds > 0.15 * cores
        ? '  WARNING: other processes used the CPU; figures are unreliable'
        : '';
    // The budget view: CPU per event of each party (clock ticks are 10 ms). Two saturated cores give
    // 2 s of CPU per second, so events/s can never exceed 2e6 / (sum of these µs).
    const perEvent = (ticks: number) => ((ticks * 10_000) / (groups.events ?? 1)).toFixed(0);
    const budget = groups.events
      ? `\n  cpu per event (µs): load generator ${perEvent(used.bench)}` +
        (groups.node !== undefined ? `, API child ${perEvent(used.node)}` : '') +
        `, postgres ${perEvent(used.pgBench + used.pgOther)}` +
        `, total ${perEvent(used.bench + used.node + used.pgBench + used.pgOther)}`
      : '';
    return (
      `cpu (share of ${cores} cores over ${seconds.toFixed(1)} s): load generator ${pct(used.bench)}, ` +
      (groups.node !== undefined ? `API child ${pct(used.node)}, ` : '') +
      `postgres bench backends ${pct(used.pgBench)}, postgres other ${pct(used.pgOther)}, other processes ${pct(used.other)}` +
      warn +
      budget
    );
  };
}

/** The commit measured, and whether the node's code differs from it in the working tree. */
function codeVersion(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirs = ['api', 'domain', 'infra', 'actors', 'app', 'migrations'];
  const dirty = git('status', '--porcelain', '--', ...dirs).split('\n').filter(Boolean);
  return dirty.length === 0
    ? `${head} (clean)`
    : `${head} + ${dirty.length} uncommitted change(s) in ${dirs.join('/')}`;
}

/** A connected client; a server-side disconnect surfaces on its next query, not as a crash. */
async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', (err) => console.error(`postgres connection lost: ${err.message}`));
  await c.connect();
  return c;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// Event generation: a POS device with its own seq, vector clock and hybrid clock

/** mulberry32: a small seeded PRNG, so runs generate the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Product {
  id: string;
  price: number;
}

/** The store's catalog and customers, shared by its devices (created before the devices sell). */
interface Store {
  id: string;
  products: Product[];
  customers: string[];
}

interface BenchEvent {
  event_id: string;
  store_id: string;
  device_id: string;
  seq: number;
  type: string;
  vector_clock: Record<string, number>;
  payload: Record<string, unknown>;
  created_at: string;
  actor_user_id: string;
}

/** One request: its serialised body and the rows the baseline inserts for the same events. */
interface Batch {
  body: Buffer;
  events: number;
  rows: unknown[][];
  types: Record<string, number>;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const START = Date.parse('2026-11-20T08:00:00.000Z');

class PosDevice {
  seq = 0;
  clock: Record<string, number> = {};
  private now = START;
  private readonly rnd: () => number;
  private readonly sales: string[] = [];
  private readonly debts: { id: string; amount: number }[] = [];
  private readonly ownProducts: string[] = [];
  private readonly ownCustomers: string[] = [];
  private readonly invoiceSeries = randomUUID();
  private fiscal = 0;
  private session: string | null = null;
  private pending: [string, Record<string, unknown>][] = [];

  constructor(
    readonly store: Store,
    readonly deviceId: string,
    seed: number,
    private readonly cashier: string,
    /** The products this device sells and counts (the store's catalog, or a slice of it). */
    private readonly catalog: Product[] = store.products,
  ) {
    this.rnd = prng(seed);
  }

  /** Merges what this device has seen from the others (it pulled their events). */
  observe(clock: Record<string, number>): void {
    for (const [k, v] of Object.entries(clock)) this.clock[k] = Math.max(this.clock[k] ?? 0, v);
  }

  private pick<T>(list: T[]): T {
    return list[Math.floor(this.rnd() * list.length)]!;
  }

  /** 80 % of sale lines come from the best-selling 10 % of the catalog. */
  private product(): Product {
    const all = this.catalog;
    const hot = Math.max(1, Math.floor(all.length / 10));
    return this.rnd() < 0.8
      ? all[Math.floor(this.rnd() * hot)]!
      : all[hot + Math.floor(this.rnd() * (all.length - hot))]!;
  }

  private make(type: string, payload: Record<string, unknown>): BenchEvent {
    this.seq += 1;
    this.clock = { ...this.clock, [this.deviceId]: this.seq };
    // The tills of one store work the same hours: event n of every device falls in the same 8 s slot
    // (with jitter), so concurrent pushes cover the same store-hour buckets, as they do in a shop.
    this.now = START + this.seq * 8000 + Math.floor(this.rnd() * 7000);
    return {
      event_id: randomUUID(),
      store_id: this.store.id,
      device_id: this.deviceId,
      seq: this.seq,
      type,
      vector_clock: { ...this.clock },
      payload,
      created_at: new Date(this.now).toISOString(),
      actor_user_id: this.cashier,
    };
  }

  private sale(aliasTotal = false): [string, Record<string, unknown>] {
    const lines = 1 + Math.floor(this.rnd() * 3);
    const items = [];
    for (let i = 0; i < lines; i++) {
      const p = this.product();
      const qty = this.rnd() < 0.15 ? round2(0.25 + this.rnd() * 2) : 1 + Math.floor(this.rnd() * 3);
      items.push({ product_id: p.id, qty, unit_price: p.price, name: `Producto ${p.id.slice(0, 6)}` });
    }
    const total = round2(items.reduce((s, it) => s + it.qty * it.unit_price, 0));
    const saleId = randomUUID();
    this.sales.push(saleId);
    this.fiscal += 1;
    const payload: Record<string, unknown> = {
      sale_id: saleId,
      items,
      payment_method: this.rnd() < 0.6 ? 'cash' : 'card',
      session_id: this.session,
      customer_id: this.rnd() < 0.2 ? this.pick(this.store.customers) : null,
      invoice_series_id: this.invoiceSeries,
      fiscal_number: this.fiscal,
    };
    payload[aliasTotal ? 'total_amount' : 'total'] = total;
    return ['SaleCreated', payload];
  }

  private debt(alias = false): [string, Record<string, unknown>] {
    const amount = round2(5 + this.rnd() * 200);
    const id = randomUUID();
    this.debts.push({ id, amount });
    const payload: Record<string, unknown> = {
      debt_id: id,
      customer_id: this.pick(this.store.customers),
      sale_id: this.sales.length > 0 && this.rnd() < 0.5 ? this.pick(this.sales) : null,
      due_date: new Date(this.now + 30 * 86_400_000).toISOString().slice(0, 10),
    };
    if (alias) {
      payload.total_amount = amount;
      payload.note = 'fiado';
    } else {
      payload.amount = amount;
      payload.notes = 'fiado';
    }
    return ['DebtCreated', payload];
  }

  private payment(alias = false): [string, Record<string, unknown>] {
    if (this.debts.length === 0) return this.debt(alias);
    const d = this.pick(this.debts);
    const payload: Record<string, unknown> = {
      payment_id: randomUUID(),
      debt_id: d.id,
      amount: round2(Math.max(0.01, d.amount * (0.2 + this.rnd() * 0.5))),
    };
    if (alias) {
      payload.method = 'transfer';
      payload.note = 'abono';
      return ['DebtPaymentAdded', payload];
    }
    payload.payment_method = 'cash';
    return ['DebtPaymentRecorded', payload];
  }

  private next(): [string, Record<string, unknown>] {
    const queued = this.pending.shift();
    if (queued) return queued;
    if (!this.session) {
      this.session = randomUUID();
      return ['CashSessionOpened', { session_id: this.session, opening_amount: 100 }];
    }
    const r = this.rnd();
    if (r < 0.5) return this.sale();
    if (r < 0.6) {
      if (this.sales.length === 0) return this.sale();
      return ['SaleVoided', { sale_id: this.pick(this.sales), reason: 'cliente desistió' }];
    }
    if (r < 0.75) {
      const p = this.product();
      if (r < 0.66)
        return [
          'StockReceived',
          {
            product_id: p.id,
            qty: 6 + Math.floor(this.rnd() * 48),
            unit_cost: round2(p.price * 0.6),
            reason: 'proveedor',
          },
        ];
      if (r < 0.71)
        return [
          'StockAdjusted',
          { product_id: p.id, qty_delta: -1 - Math.floor(this.rnd() * 3), reason: 'merma' },
        ];
      return [
        'StockDeltaApplied',
        { product_id: p.id, qty_delta: 1 + Math.floor(this.rnd() * 5), reason: 'conteo' },
      ];
    }
    if (r < 0.85) return r < 0.8 ? this.debt() : this.payment();
    if (r < 0.9) {
      if (r < 0.865 || this.ownProducts.length === 0) {
        const id = randomUUID();
        this.ownProducts.push(id);
        return [
          'ProductCreated',
          {
            product_id: id,
            name: `Nuevo ${id.slice(0, 8)}`,
            sku: `SKU-${id.slice(0, 8)}`,
            price: round2(1 + this.rnd() * 50),
            cost: round2(0.5 + this.rnd() * 25),
            category: 'abarrotes',
            unit: 'unidad',
          },
        ];
      }
      if (r < 0.88)
        return [
          'ProductUpdated',
          { product_id: this.pick(this.ownProducts), price: round2(1 + this.rnd() * 50) },
        ];
      if (r < 0.89 || this.ownCustomers.length === 0) {
        const id = randomUUID();
        this.ownCustomers.push(id);
        return [
          'CustomerCreated',
          { customer_id: id, name: `Cliente ${id.slice(0, 6)}`, phone: '+51 999 000 000', credit_limit: 300 },
        ];
      }
      return ['CustomerUpdated', { customer_id: this.pick(this.ownCustomers), phone: '+51 988 111 222' }];
    }
    if (r < 0.95) {
      if (r < 0.94) {
        return [
          'CashLedgerEntryCreated',
          {
            entry_id: randomUUID(),
            session_id: this.session,
            kind: this.rnd() < 0.5 ? 'in' : 'out',
            amount: round2(1 + this.rnd() * 80),
            reason: 'caja chica',
          },
        ];
      }
      // Close the session; the next event opens a new one.
      const closing = {
        session_id: this.session,
        closing_amount: round2(100 + this.rnd() * 900),
        notes: 'cierre de turno',
      };
      this.session = randomUUID();
      this.pending.push(['CashSessionOpened', { session_id: this.session, opening_amount: 100 }]);
      return ['CashSessionClosed', closing];
    }
    // Other: the documented aliases (total_amount, method/note, DebtPaymentAdded).
    if (r < 0.965) return this.sale(true);
    if (r < 0.98) return this.debt(true);
    return this.payment(true);
  }

  event(): BenchEvent {
    const [type, payload] = this.next();
    return this.make(type, payload);
  }
}

const BASELINE_COLUMNS =
  'event_id, store_id, device_id, seq, type, vector_clock, payload, full_payload_hash, delta_payload, created_at, ' +
  'origin_node, actor_user_id, source, source_peer, projection_status, projection_attempts';
const BASELINE_PARAMS_PER_ROW = 12;

/** The row the node stores for an event (constants source/peer/status/attempts are inlined). */
function baselineRow(e: BenchEvent): unknown[] {
  return [
    e.event_id,
    e.store_id,
    e.device_id,
    e.seq,
    e.type,
    JSON.stringify(e.vector_clock),
    JSON.stringify(e.payload),
    hashPayload(e.payload),
    null,
    e.created_at,
    NODE_ID,
    e.actor_user_id,
  ];
}

function baselineSql(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = Array.from(
      { length: BASELINE_PARAMS_PER_ROW },
      (_, i) => `$${r * BASELINE_PARAMS_PER_ROW + i + 1}`,
    );
    values.push(`(${p.join(', ')}, 'device', NULL, 'processed', 1)`);
  }
  return `INSERT INTO events_baseline (${BASELINE_COLUMNS}) VALUES ${values.join(', ')}`;
}

function makeBatches(device: PosDevice, count: number, size: number): Batch[] {
  const out: Batch[] = [];
  for (let b = 0; b < count; b++) {
    const events: BenchEvent[] = [];
    const types: Record<string, number> = {};
    for (let i = 0; i < size; i++) {
      const e = device.event();
      events.push(e);
      types[e.type] = (types[e.type] ?? 0) + 1;
    }
    const body = Buffer.from(
      JSON.stringify({ store_id: device.store.id, device_id: device.deviceId, events }),
    );
    out.push({ body, events: events.length, rows: events.map(baselineRow), types });
  }
  return out;
}

/**
 * Generates `count` batches per device, round-robin, and lets every device observe the others'
 * clocks every 5 batches (they pull now and then), so vector clocks carry every device's entry.
 */
function generate(devices: PosDevice[], count: number, size: number): Batch[][] {
  const perDevice: Batch[][] = devices.map(() => []);
  for (let b = 0; b < count; b++) {
    if (b % 5 === 0) {
      const seen = Object.fromEntries(devices.map((d) => [d.deviceId, d.seq]));
      for (const d of devices) d.observe(seen);
    }
    devices.forEach((d, i) => perDevice[i]!.push(...makeBatches(d, 1, size)));
  }
  return perDevice;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

interface PhaseResult {
  scenario: string;
  events: number;
  seconds: number;
  latencies: number[];
  bytes: number;
}

/** Starts every worker, waits until all have finished their warmup, then times the rest together. */
class Barrier {
  private waiting = 0;
  private release!: () => void;
  readonly released: Promise<void>;
  constructor(private readonly parties: number) {
    this.released = new Promise((resolve) => (this.release = resolve));
  }
  arrive(): Promise<void> {
    if (++this.waiting === this.parties) this.release();
    return this.released;
  }
}

// ---------------------------------------------------------------------------------------------
// The API child process

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

async function startServer(databaseUrl: string): Promise<Server> {
  const nodeArgs: string[] = [];
  if (opts.cpuProf)
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${path.resolve(opts.cpuProf === 'true' ? 'bench/.profiles' : opts.cpuProf)}`,
    );
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(__dirname, 'ingest-server.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        BENCH_ADMIN_SECRET: ADMIN_SECRET,
        BENCH_TRACE_SQL: opts.traceSql ? '1' : '0',
        BENCH_EXPLAIN: opts.explain ? path.resolve(opts.explain) : '',
        BENCH_POOL_SIZE: String(Math.max(10, opts.clients * 2)),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('API child did not start within 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`API child exited with ${code} before listening`));
    });
  });
  return { child, port, exited };
}

/**
 * Stops the API child: gracefully (stdin closes, it drains and exits, writing its CPU profile and SQL
 * trace), or by force after a failed run (SIGKILL, then the backends of its stuck transactions in
 * the bench database are terminated so they do not keep working while the baseline runs).
 */
async function stopServer(server: Server, force = false, admin?: pg.Client): Promise<void> {
  if (!force) {
    server.child.stdin?.end();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    if ((await Promise.race([server.exited, timeout])) !== 'timeout') return;
  }
  if (server.child.exitCode === null && server.child.signalCode === null && server.child.pid) {
    process.kill(server.child.pid, 'SIGKILL');
  }
  await server.exited;
  // The caller's own connection (to the bench database) is the one spared.
  await admin?.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
}

/**
 * What else is running: CPU busy over one second (from /proc/stat), load average, and client
 * backends busy in other databases of the server. A busy machine makes every figure here noise.
 */
async function machineLoad(c: pg.Client, dbName: string): Promise<string> {
  const sample = () => {
    try {
      const cpu = fs
        .readFileSync('/proc/stat', 'utf8')
        .split('\n')[0]!
        .trim()
        .split(/\s+/)
        .slice(1)
        .map(Number);
      const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
      return { idle, total: cpu.reduce((s, v) => s + v, 0) };
    } catch {
      return null;
    }
  };
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const b = sample();
  const busy = a && b && b.total > a.total ? 100 * (1 - (b.idle - a.idle) / (b.total - a.total)) : NaN;
  const others = await c.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND state <> 'idle' AND datname IS DISTINCT FROM $1 AND pid <> pg_backend_pid()`,
    [dbName],
  );
  const n = Number(others.rows[0]!.n);
  const load = os.loadavg()[0]!.toFixed(2);
  const warn = busy > 15 || n > 0 ? '  WARNING: the machine is not idle; figures are unreliable' : '';
  return `cpu busy ${busy.toFixed(0)} % over 1 s, load ${load}, ${n} busy backends in other databases${warn}`;
}

interface HttpResponse {
  status: number;
  body: string;
}

function request(
  agent: http.Agent,
  port: number,
  method: string,
  urlPath: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        headers: body
          ? { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) }
          : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no response within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function adminPost(port: number, urlPath: string, payload: unknown): Promise<Record<string, unknown>> {
  const agent = new http.Agent({ keepAlive: false });
  const res = await request(
    agent,
    port,
    'POST',
    urlPath,
    { authorization: `Bearer ${ADMIN_SECRET}` },
    Buffer.from(JSON.stringify(payload)),
  );
  if (res.status !== 200 && res.status !== 201) throw new Error(`POST ${urlPath}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Phases

interface PushTotals {
  /** Events accepted by the node (counted from the responses). */
  accepted: number;
  /** Body bytes of the requests that got a response. */
  bytes: number;
  latencies: number[];
  errors: string[];
  /** Set on the first failed request: every client stops, the run fails. */
  stop: boolean;
}

const newTotals = (): PushTotals => ({ accepted: 0, bytes: 0, latencies: [], errors: [], stop: false });

/** One client: its batches in order over one keep-alive connection. */
async function pushClient(port: number, token: string, batches: Batch[], totals: PushTotals): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { authorization: `Bearer ${token}` };
  try {
    for (const batch of batches) {
      if (totals.stop) return;
      const started = performance.now();
      let res: HttpResponse;
      try {
        res = await request(agent, port, 'POST', '/sync/push', headers, batch.body);
      } catch (err) {
        totals.errors.push(`request failed: ${err instanceof Error ? err.message : String(err)}`);
        totals.stop = true;
        return;
      }
      const ms = performance.now() - started;
      totals.bytes += batch.body.length;
      if (res.status !== 200) {
        totals.errors.push(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
        totals.stop = true;
        return;
      }
      const out = JSON.parse(res.body) as { accepted: string[]; duplicates: string[]; rejected: unknown[] };
      totals.accepted += out.accepted.length;
      totals.latencies.push(ms);
      if (out.accepted.length !== batch.events || out.duplicates.length > 0 || out.rejected.length > 0) {
        totals.errors.push(
          `batch of ${batch.events}: accepted ${out.accepted.length}, duplicates ${out.duplicates.length}, ` +
            `rejected ${JSON.stringify(out.rejected).slice(0, 300)}`,
        );
      }
    }
  } finally {
    agent.destroy();
  }
}

/** All clients at once; the clock starts when every client is ready and stops when the last is done. */
async function pushPhase(
  port: number,
  tokens: string[],
  batches: Batch[][],
  totals: PushTotals,
): Promise<PhaseResult> {
  const t0 = performance.now();
  await Promise.all(tokens.map((token, i) => pushClient(port, token, batches[i]!, totals)));
  return {
    scenario: 'push (/sync/push)',
    events: totals.accepted,
    seconds: (performance.now() - t0) / 1000,
    latencies: totals.latencies,
    bytes: totals.bytes,
  };
}

async function baselinePhase(url: string, warmup: Batch[][], timed: Batch[][]): Promise<PhaseResult> {
  const clients = await Promise.all(warmup.map(() => connect(url)));
  const pids = await Promise.all(
    clients.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid),
  );
  const texts = new Map<number, string>();
  const textFor = (rows: number) => {
    let t = texts.get(rows);
    if (!t) texts.set(rows, (t = baselineSql(rows)));
    return t;
  };
  const latencies: number[] = [];
  let bytes = 0;
  const barrier = new Barrier(clients.length);
  let t0 = 0;
  let meter: ReturnType<typeof cpuMeter> | undefined;
  let seconds = 0;
  void barrier.released.then(() => {
    t0 = performance.now();
    meter = cpuMeter();
  });
  try {
    await Promise.all(
      clients.map(async (c, i) => {
        for (const b of warmup[i]!) await c.query(textFor(b.rows.length), b.rows.flat());
        // Statement parameters flattened and sized before the clock starts, like the push bodies.
        const statements = timed[i]!.map((b) => {
          const text = textFor(b.rows.length);
          const values = b.rows.flat();
          let size = Buffer.byteLength(text);
          for (const v of values) if (v !== null) size += Buffer.byteLength(String(v));
          return { text, values, size };
        });
        await barrier.arrive();
        for (const st of statements) {
          const started = performance.now();
          await c.query(st.text, st.values);
          latencies.push(performance.now() - started);
          bytes += st.size;
        }
      }),
    );
    seconds = (performance.now() - t0) / 1000;
    if (meter)
      console.log(
        `baseline ${meter({ pgBench: pids, events: timed.flat().reduce((n, b) => n + b.rows.length, 0) })}`,
      );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  return {
    scenario: 'baseline (multi-row INSERT)',
    events: timed.flat().reduce((s, b) => s + b.rows.length, 0),
    seconds,
    latencies,
    bytes,
  };
}

function printTable(results: PhaseResult[]): void {
  const header = ['scenario', 'events', 'seconds', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'bytes'];
  const rows = results.map((r) => {
    const s = [...r.latencies].sort((a, b) => a - b);
    return [
      r.scenario,
      String(r.events),
      r.seconds.toFixed(2),
      Math.round(r.events / r.seconds).toLocaleString('en-US'),
      percentile(s, 50).toFixed(1),
      percentile(s, 95).toFixed(1),
      percentile(s, 99).toFixed(1),
      `${(r.bytes / 1e6).toFixed(1)} MB (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s)`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  serverUrl ||= (await ensureServices()).databaseUrl;
  const dbName = `velox_bench_${randomBytes(5).toString('hex')}`;
  const dbUrl = withDatabase(serverUrl, dbName);
  let server: Server | undefined;
  let created = false;
  let failed = false;

  const cleanup = async () => {
    if (server)
      await stopServer(server).catch((err: unknown) => console.error('stopping the API child:', err));
    server = undefined;
    if (created) {
      const admin = await connect(serverUrl);
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
      created = false;
      console.log(`dropped database ${dbName}`);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const runStarted = performance.now();
    // 1. Fresh database, migrated; the baseline table next to events, same columns and indexes.
    const admin = await connect(serverUrl);
    try {
      await admin.query(`CREATE DATABASE ${dbName}`);
      created = true;
    } finally {
      await admin.end();
    }
    const migrator = createDb(dbUrl, 2);
    try {
      await migrateToLatest(migrator);
    } finally {
      await migrator.destroy();
    }
    const sqlc = await connect(dbUrl);
    try {
      await sqlc.query(`CREATE TABLE events_baseline (LIKE events INCLUDING ALL)`);
      // LIKE copies node_seq's default (events' sequence); give the baseline a sequence of its own.
      await sqlc.query(`CREATE SEQUENCE events_baseline_node_seq_seq OWNED BY events_baseline.node_seq`);
      await sqlc.query(
        `ALTER TABLE events_baseline ALTER COLUMN node_seq SET DEFAULT nextval('events_baseline_node_seq_seq')`,
      );
      const v = await sqlc.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      console.log(`database ${dbName} on PostgreSQL ${v.rows[0]!.v}; code ${codeVersion()}`);
    } finally {
      await sqlc.end();
    }

    // 2. The API in its own process; one store, one device per client.
    server = await startServer(dbUrl);
    const storeId = randomUUID();
    await adminPost(server.port, '/stores', { id: storeId, name: 'Bodega Bench' });
    const devices: PosDevice[] = [];
    const tokens: string[] = [];
    const rnd = prng(opts.seed);
    const store: Store = {
      id: storeId,
      products: Array.from({ length: 2000 }, () => ({ id: randomUUID(), price: round2(0.5 + rnd() * 60) })),
      customers: Array.from({ length: 300 }, () => randomUUID()),
    };
    for (let i = 0; i < opts.clients; i++) {
      const deviceId = randomUUID();
      const reg = await adminPost(server.port, `/stores/${storeId}/devices`, {
        name: `POS ${i + 1}`,
        device_id: deviceId,
      });
      tokens.push(String(reg.token));
      const slice = store.products.length / opts.clients;
      const catalog =
        opts.catalog === 'per-device'
          ? store.products.slice(Math.floor(i * slice), Math.floor((i + 1) * slice))
          : store.products;
      devices.push(new PosDevice(store, deviceId, opts.seed * 1000 + i + 1, `cashier-${i + 1}`, catalog));
    }
    console.log(
      `API child pid ${server.child.pid} on 127.0.0.1:${server.port}; ${opts.clients} clients x ${opts.batch} events/batch, ` +
        `warmup ${opts.warmup} batches/client, catalog ${opts.catalog} (${store.products.length} products)`,
    );

    // 3a. Warmup batches, pushed untimed; their second half calibrates the timed batch count.
    const warmupTotals = newTotals();
    const warmup = generate(devices, opts.warmup, opts.batch);
    const half = Math.floor(opts.warmup / 2);
    await Promise.all(
      tokens.map((t, i) => pushClient(server!.port, t, warmup[i]!.slice(0, half), warmupTotals)),
    );
    const calStart = performance.now();
    await Promise.all(
      tokens.map((t, i) => pushClient(server!.port, t, warmup[i]!.slice(half), warmupTotals)),
    );
    const calRate =
      ((opts.warmup - half) * opts.clients * opts.batch) / ((performance.now() - calStart) / 1000);
    if (warmupTotals.errors.length > 0)
      throw new Error(`warmup failed: ${warmupTotals.errors.slice(0, 3).join('; ')}`);
    const perClient =
      opts.batches ??
      Math.min(5000, Math.max(20, Math.round((calRate * opts.seconds) / (opts.clients * opts.batch))));

    // 3b. Timed batches, generated and serialised before timing.
    const genStart = performance.now();
    const timed = generate(devices, perClient, opts.batch);
    const typeCounts: Record<string, number> = {};
    for (const b of timed.flat())
      for (const [t, n] of Object.entries(b.types)) typeCounts[t] = (typeCounts[t] ?? 0) + n;
    const timedEvents = timed.flat().reduce((s, b) => s + b.events, 0);
    console.log(
      `warmup rate ~${Math.round(calRate)} events/s -> ${perClient} timed batches/client (${timedEvents} events), ` +
        `generated in ${((performance.now() - genStart) / 1000).toFixed(1)} s`,
    );
    console.log(
      'mix: ' +
        Object.entries(typeCounts)
          .sort((a, b) => b[1] - a[1])
          .map(([t, n]) => `${t} ${((100 * n) / timedEvents).toFixed(1)}%`)
          .join(', '),
    );

    const check = await connect(dbUrl);
    let push: PhaseResult;
    let base: PhaseResult;
    try {
      // 4. Push phase.
      await check.query('CHECKPOINT');
      console.log(`before push: ${await machineLoad(check, dbName)}`);
      const totals = newTotals();
      const sampler = opts.sampleWaits ? sampleWaits(dbUrl) : undefined;
      const pushCpu = cpuMeter();
      push = await pushPhase(server.port, tokens, timed, totals);
      const backends = await check.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      console.log(
        `push ${pushCpu({ node: server.child.pid, pgBench: backends.rows.map((r) => r.pid), events: timedEvents })}`,
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
      await stopServer(server, pushFailed, check);
      server = undefined;

      // 7. Correctness: every accepted event stored, and projected.
      const acceptedAll = warmupTotals.accepted + totals.accepted;
      const salesSent = [...warmup.flat(), ...timed.flat()].reduce(
        (s, b) => s + (b.types.SaleCreated ?? 0),
        0,
      );
      const c = await check.query<{ events: string; unprocessed: string; failed: string; sales: string }>(
        `SELECT (SELECT count(*) FROM events) AS events,
                (SELECT count(*) FROM events WHERE projection_status <> 'processed') AS unprocessed,
                (SELECT count(*) FROM events WHERE projection_status = 'failed') AS failed,
                (SELECT count(*) FROM sales) AS sales`,
      );
      const row = c.rows[0]!;
      const sentAll = (opts.warmup + perClient) * opts.clients * opts.batch;
      const eventsOk = Number(row.events) === sentAll;
      const projectedOk = Number(row.unprocessed) === 0;
      const salesOk = Number(row.sales) === salesSent;
      console.log(
        `check: events in db ${row.events} / sent ${sentAll} (accepted ${acceptedAll}) ${eventsOk ? 'OK' : 'MISMATCH'}; ` +
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

      // 5. Baseline: the same rows, plain multi-row INSERT, same concurrency, no projections. The
      // push left ~100k fresh rows for autovacuum: vacuum now, untimed, so it does not run during it.
      await check.query('VACUUM (ANALYZE)');
      await check.query('CHECKPOINT');
      console.log(`before baseline: ${await machineLoad(check, dbName)}`);
      base = await baselinePhase(dbUrl, warmup, timed);
      const b = await check.query<{ n: string }>('SELECT count(*) AS n FROM events_baseline');
      if (Number(b.rows[0]!.n) !== sentAll) {
        failed = true;
        console.error(`baseline: ${b.rows[0]!.n} rows, expected ${sentAll}`);
      }
    } finally {
      await check.end();
    }

    // 6. Report.
    console.log('');
    printTable([push, base]);
    const pushRate = push.events / push.seconds;
    const baseRate = base.events / base.seconds;
    const ratio = pushRate / baseRate;
    console.log('');
    console.log(`ratio push/baseline = ${(100 * ratio).toFixed(1)} %`);
    console.log(
      `goal push >= ${GOAL_EVENTS_PER_SECOND.toLocaleString('en-US')} events/s: ${Math.round(pushRate).toLocaleString('en-US')} ` +
        `${pushRate >= GOAL_EVENTS_PER_SECOND ? 'PASS' : 'MISS'}`,
    );
    console.log(
      `goal push >= ${100 * GOAL_RATIO} % of baseline: ${(100 * ratio).toFixed(1)} % ${ratio >= GOAL_RATIO ? 'PASS' : 'MISS'}`,
    );
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
      console.error(`cleanup failed (database ${dbName} may remain):`, err);
    }
  }
  return failed ? 1 : 0;
}

void main().then((code) => process.exit(code));
