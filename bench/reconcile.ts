/**
 * Reconcile benchmark (figures: docs/benchmarks.md, "Reconcile"): what anti-entropy costs — wall
 * time, HTTP round trips and bytes — for logs of 100k and 1M events with 0, 10 and 1,000 divergent
 * events, against a baseline in the same run that does what the seeds' V1 did: list every event id of each day window
 * on both sides and diff the lists.
 *
 *   npm run bench:reconcile [-- --sizes=100000,1000000 --divergence=0,10,1000 --days=365 --chunk=500]
 *
 * Options (argv or env): --sizes (BENCH_SIZES), --divergence (BENCH_DIVERGENCE: divergent events,
 * half only on this node and half only on the peer, spread at random over the log), --days
 * (BENCH_DAYS, 365: the log spans that many days whatever its size, so a bigger log is a busier
 * store, not a longer one), --chunk (BENCH_CHUNK, 500 ids per pull/push step), --page (BENCH_PAGE,
 * 5000 ids per V1 listing request), --seed (BENCH_SEED), --keep (do not drop the base databases).
 *
 * Steps, per size: a base database (migrated) gets the log (SaleCreated events built by the tests'
 * DeviceSim, written as the rows ingest stores, in multi-row INSERTs), then its digests are rebuilt
 * from the events (the same formula ingest uses). Per divergence and method: two clones of the base
 * (CREATE DATABASE … TEMPLATE, file copy) become "this node" and the peer; the divergent events
 * are deleted from one side or the other and the digests of their hours rebuilt; the peer's API listens on a local port (in this process); this node reconciles with it
 * through the same functions the StoreReconcile activities call (Temporal's own overhead, a few ms
 * per activity, is not included); then both logs must be identical (root digest and count).
 * Traffic is counted by the PeerClient: requests, and bytes of request and response bodies and URL
 * paths (headers not counted), the same way for both methods.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { z } from 'zod';
import { buildApp } from '../api/app';
import { configSchema } from '../infra/config';
import { createDb, migrateToLatest, type Db } from '../infra/db';
import { diffLeaves } from '../domain/reconcile/digest-walk';
import { rebuildDigests, rootDigest } from '../infra/repositories/event-digests';
import { PeerClient } from '../infra/peers/peer-client';
import { newTraffic, type TrafficCounter } from '../domain/wire/peer-protocol';
import { diffStore, pullEvents, pushEvents } from '../infra/reconcile/repair';
import { createMetrics } from '../infra/metrics';
import { ensureServices } from '../scripts/services';
import { DeviceSim } from '../test/support/events';
import { connect, dropDatabase as dropDb, onServer, withDatabase } from './lib/db';
import { intList, option } from './lib/options';
import { table } from './lib/stats';
import { eventRow, insertRowsSql, MAX_ROWS_PER_INSERT, md5Uuid, prng } from './lib/workload';

const log = pino({ level: 'silent' });
const STORE_ID = '7e1c0000-0000-4000-8000-000000000001';
const PEER_TOKEN = `bench-peer-${randomBytes(12).toString('hex')}`;
const START = Date.parse('2025-11-24T00:00:00.000Z');
const GOAL_IN_SYNC_BYTES = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

const int = (name: string, env: string, fallback: number) => intList(name, env, [fallback])[0]!;

const opts = {
  sizes: intList('sizes', 'BENCH_SIZES', [100_000, 1_000_000]),
  divergence: intList('divergence', 'BENCH_DIVERGENCE', [0, 10, 1000]),
  days: int('days', 'BENCH_DAYS', 365),
  chunk: int('chunk', 'BENCH_CHUNK', 500),
  page: int('page', 'BENCH_PAGE', 5000),
  seed: int('seed', 'BENCH_SEED', 42),
  keep: option('keep', 'BENCH_KEEP') === 'true',
};

// ---------------------------------------------------------------------------------------------
// Databases

let serverUrl = '';
const databaseUrl = (name: string) => withDatabase(serverUrl, name);
const admin = <T>(fn: (c: pg.Client) => Promise<T>) => onServer(serverUrl, fn);
const dropDatabase = (name: string) => dropDb(serverUrl, name);

/**
 * The log: n SaleCreated events of four devices, spread evenly over --days, built by the tests' own
 * event builder (DeviceSim) and written as the rows ingest stores (hashed as ingest hashes them), in
 * multi-row INSERTs. Ids are deterministic (md5 of the event's index), so a case can name any event.
 */
async function generateLog(url: string, n: number): Promise<void> {
  const spanMs = BigInt(opts.days * 86_400_000);
  const sims = Array.from({ length: 4 }, (_, k) => new DeviceSim(STORE_ID, `bench-dev-${k}`, START - 1000));
  const c = await connect(url);
  try {
    await c.query(`INSERT INTO stores (id, name) VALUES ($1, 'Bench store')`, [STORE_ID]);
    await c.query('SET synchronous_commit = off');
    for (let from = 0; from < n; from += ROWS_PER_INSERT) {
      const rows: unknown[][] = [];
      for (let i = from; i < Math.min(n, from + ROWS_PER_INSERT); i++) {
        const payload = {
          items: [{ product_id: md5Uuid(`p${i % 50}`), qty: 1, unit_price: 2.5 }],
          sale_id: md5Uuid(`s${i}`),
          total: 2.5,
        };
        const at = START + Number((BigInt(i) * spanMs) / BigInt(n));
        const e = sims[i % 4]!.wire('SaleCreated', payload, { at });
        e.event_id = eventIdOf(i);
        rows.push(eventRow(e, 'bench-origin'));
      }
      await c.query(insertRowsSql('events', rows.length), rows.flat());
    }
    await c.query('ANALYZE events');
  } finally {
    await c.end();
  }
}

const ROWS_PER_INSERT = Math.min(5000, MAX_ROWS_PER_INSERT);
const eventIdOf = (i: number) => md5Uuid(`rc-${i}`);

/** Deterministic pseudo-random indexes. */
function pick(count: number, n: number, seed: number): number[] {
  const next = prng(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, n)) chosen.add(Math.floor(next() * n));
  return [...chosen];
}

function idsOf(indexes: number[]): string[] {
  return indexes.map(eventIdOf);
}

/** Removes events behind ingest's back and rebuilds the digests of their hours. */
async function removeEvents(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const r = await sql<{ hour: string }>`
    DELETE FROM events WHERE event_id = ANY(${ids}::uuid[])
    RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS hour`.execute(db);
  await rebuildDigests(db, STORE_ID, [...new Set(r.rows.map((x) => x.hour))]);
}

// ---------------------------------------------------------------------------------------------
// The peer: the node's real API on its clone, plus the V1 listing the baseline needs.

async function startPeer(db: Db, url: string) {
  const config = Object.freeze(
    configSchema.parse({
      NODE_ENV: 'production',
      NODE_ID: 'peer',
      DATABASE_URL: url,
      ADMIN_SECRET: `bench-admin-${randomBytes(12).toString('hex')}`,
      PEERS: JSON.stringify([{ id: 'here', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
      LOG_LEVEL: 'silent',
      RATE_LIMIT_MAX: '1000000000',
    }),
  );
  const app = await buildApp({
    config,
    db,
    log,
    metrics: createMetrics(),
    checkTemporal: async () => undefined,
    checkWorker: async () => undefined,
  });
  // The seeds' V1: every event id of a store in a time window, paged with limit/offset.
  app.get('/bench/v1/ids', { config: { auth: ['peer'] } }, async (request) => {
    const q = request.query as { store_id: string; day: string; limit: string; offset: string };
    const from = new Date(`${q.day}T00:00:00Z`);
    const r = await sql<{ id: string }>`
      SELECT event_id::text AS id FROM events
      WHERE store_id = ${q.store_id} AND created_at >= ${from} AND created_at < ${new Date(from.getTime() + 86_400_000)}
      ORDER BY event_id LIMIT ${Number(q.limit)} OFFSET ${Number(q.offset)}`.execute(db);
    return { ids: r.rows.map((x) => x.id) };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------------
// The two methods. Both repair the same way (pull missing here, push missing there, in chunks).

interface Outcome {
  diff: TrafficCounter;
  total: TrafficCounter;
  diffMs: number;
  totalMs: number;
  found: number;
}

async function repair(db: Db, client: PeerClient, missingHere: string[], missingThere: string[]) {
  for (let i = 0; i < missingHere.length; i += opts.chunk) {
    await pullEvents(db, client, STORE_ID, missingHere.slice(i, i + opts.chunk), { nodeId: 'here', log });
  }
  for (let i = 0; i < missingThere.length; i += opts.chunk) {
    await pushEvents(db, client, STORE_ID, missingThere.slice(i, i + opts.chunk), { log });
  }
}

/** StoreReconcile's steps: walk the digest trees, then repair; again only if the walk hit its id limit. */
async function digestTree(db: Db, client: PeerClient): Promise<Omit<Outcome, 'total' | 'totalMs'>> {
  let diffMs = 0;
  let diff = newTraffic();
  let found = 0;
  for (;;) {
    const t0 = performance.now();
    const d = await diffStore(db, client, STORE_ID);
    diffMs += performance.now() - t0;
    diff = { ...client.traffic };
    found += d.missingHere.length + d.missingThere.length;
    if (d.inSync) break;
    await repair(db, client, d.missingHere, d.missingThere);
    if (!d.truncated) break;
  }
  return { diff, diffMs, found };
}

const idPage = z.object({ ids: z.array(z.string()) });

/** V1: for every day window, list all ids on both sides (paged) and diff the lists. */
async function idLists(db: Db, client: PeerClient): Promise<Omit<Outcome, 'total' | 'totalMs'>> {
  const t0 = performance.now();
  const missingHere: string[] = [];
  const missingThere: string[] = [];
  for (let day = 0; day < opts.days; day++) {
    const key = new Date(START + day * 86_400_000).toISOString().slice(0, 10);
    const remote: string[] = [];
    for (let offset = 0; ; offset += opts.page) {
      const page = await client.getJson('/bench/v1/ids', idPage, {
        store_id: STORE_ID,
        day: key,
        limit: opts.page,
        offset,
      });
      remote.push(...page.ids);
      if (page.ids.length < opts.page) break;
    }
    const from = new Date(`${key}T00:00:00Z`);
    const local = await sql<{ id: string }>`
      SELECT event_id::text AS id FROM events
      WHERE store_id = ${STORE_ID} AND created_at >= ${from} AND created_at < ${new Date(from.getTime() + 86_400_000)}`.execute(
      db,
    );
    const hash = '0'.repeat(16);
    const d = diffLeaves(
      local.rows.map((r) => [r.id, hash]),
      remote.map((id) => [id, hash]),
    );
    missingHere.push(...d.missingHere);
    missingThere.push(...d.missingThere);
  }
  const diff = { ...client.traffic };
  const diffMs = performance.now() - t0;
  await repair(db, client, missingHere, missingThere);
  return { diff, diffMs, found: missingHere.length + missingThere.length };
}

const METHODS = { 'digest tree': digestTree, 'V1 id lists': idLists } as const;
type Method = keyof typeof METHODS;

// ---------------------------------------------------------------------------------------------

interface Row {
  events: number;
  divergent: number;
  method: Method;
  outcome: Outcome;
  converged: boolean;
}

async function runCase(base: string, size: number, divergent: number, method: Method): Promise<Row> {
  const suffix = randomBytes(3).toString('hex');
  const [here, there] = [`${base}_here_${suffix}`, `${base}_peer_${suffix}`];
  for (const name of [here, there]) {
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${base} STRATEGY FILE_COPY`));
  }
  const hereDb = createDb(databaseUrl(here), 4);
  const thereDb = createDb(databaseUrl(there), 8);
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
  try {
    const indexes = pick(divergent, size, opts.seed + divergent);
    const onlyHere = idsOf(indexes.slice(0, Math.ceil(indexes.length / 2)));
    const onlyThere = idsOf(indexes.slice(Math.ceil(indexes.length / 2)));
    await removeEvents(thereDb, onlyHere);
    await removeEvents(hereDb, onlyThere);

    peer = await startPeer(thereDb, databaseUrl(there));
    const client = new PeerClient(
      { id: 'peer', url: peer.url, token: PEER_TOKEN },
      { nodeId: 'here', timeoutMs: 120_000 },
    );
    const t0 = performance.now();
    const r = await METHODS[method](hereDb, client);
    const totalMs = performance.now() - t0;

    const [a, b] = await Promise.all([rootDigest(hereDb, STORE_ID), rootDigest(thereDb, STORE_ID)]);
    const converged = a.count === size && b.count === size && a.digest === b.digest && r.found === divergent;
    return {
      events: size,
      divergent,
      method,
      outcome: { ...r, total: { ...client.traffic }, totalMs },
      converged,
    };
  } finally {
    await peer?.app.close();
    await hereDb.destroy();
    await thereDb.destroy();
    await dropDatabase(here);
    await dropDatabase(there);
  }
}

const kb = (bytes: number) =>
  bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(2)} MB` : `${(bytes / 1000).toFixed(1)} KB`;
const bytesOf = (t: TrafficCounter) => t.bytesSent + t.bytesReceived;

function printTable(rows: Row[]): void {
  const header = [
    'events',
    'divergent',
    'method',
    'diff RTs',
    'diff bytes',
    'total RTs',
    'total bytes',
    'diff ms',
    'total ms',
    'converged',
  ];
  const lines = rows.map((r) => [
    r.events.toLocaleString('en-US'),
    r.divergent.toLocaleString('en-US'),
    r.method,
    String(r.outcome.diff.requests),
    kb(bytesOf(r.outcome.diff)),
    String(r.outcome.total.requests),
    kb(bytesOf(r.outcome.total)),
    r.outcome.diffMs.toFixed(0),
    r.outcome.totalMs.toFixed(0),
    r.converged ? 'yes' : 'NO',
  ]);
  console.log(table(header, lines, { left: 3 }));
}

async function main(): Promise<void> {
  const services = await ensureServices({ log: () => undefined });
  serverUrl = process.env.DATABASE_URL ?? services.databaseUrl;
  console.log(
    `reconcile bench: sizes ${opts.sizes.join(', ')}; divergence ${opts.divergence.join(', ')}; ` +
      `log over ${opts.days} days; ${opts.chunk} ids per pull/push step; V1 pages of ${opts.page} ids`,
  );
  const rows: Row[] = [];
  for (const size of opts.sizes) {
    const base = `velox_bench_rc_${size}`;
    await dropDatabase(base);
    await admin((c) => c.query(`CREATE DATABASE ${base}`));
    let db = createDb(databaseUrl(base), 2);
    let t0 = performance.now();
    await migrateToLatest(db);
    await db.destroy();
    await generateLog(databaseUrl(base), size);
    db = createDb(databaseUrl(base), 2);
    const genMs = performance.now() - t0;
    t0 = performance.now();
    const buckets = await rebuildDigests(db, STORE_ID);
    const digestMs = performance.now() - t0;
    const bytes = await sql<{
      size: string;
    }>`SELECT pg_size_pretty(pg_database_size(current_database())) AS size`.execute(db);
    await db.destroy();
    console.log(
      `${size.toLocaleString('en-US')} events: generated in ${(genMs / 1000).toFixed(1)} s ` +
        `(DeviceSim events, multi-row INSERTs), ${buckets} hour digests rebuilt in ${(digestMs / 1000).toFixed(1)} s, ` +
        `database ${bytes.rows[0]!.size}`,
    );
    try {
      for (const divergent of opts.divergence) {
        for (const method of Object.keys(METHODS) as Method[]) {
          const t = performance.now();
          const row = await runCase(base, size, divergent, method);
          rows.push(row);
          console.log(
            `  ${divergent} divergent, ${method}: ${row.outcome.total.requests} requests, ${kb(bytesOf(row.outcome.total))}, ` +
              `${row.outcome.totalMs.toFixed(0)} ms (case incl. clones: ${((performance.now() - t) / 1000).toFixed(1)} s)`,
          );
        }
      }
    } finally {
      if (!opts.keep) await dropDatabase(base);
    }
  }
  console.log('');
  printTable(rows);

  const inSync = rows.filter((r) => r.method === 'digest tree' && r.divergent === 0);
  const goal = inSync.every(
    (r) => r.outcome.total.requests === 1 && bytesOf(r.outcome.total) < GOAL_IN_SYNC_BYTES,
  );
  console.log(
    `\ngoal "no divergence = one round trip and < 10 KB": ${goal ? 'met' : 'MISSED'} ` +
      `(${inSync.map((r) => `${r.events.toLocaleString('en-US')}: ${r.outcome.total.requests} RT, ${bytesOf(r.outcome.total)} B`).join('; ')})`,
  );
  if (rows.some((r) => !r.converged)) {
    console.error('some runs did not converge');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
