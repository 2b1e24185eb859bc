/**
 * ERP bridge benchmark (docs/erp-bridge.md, "Performance"): what the seed's targets ask of the
 * bridge, on this node's stack.
 *
 *   npm run bench:erp [-- --pushes=200 --batch-items=5000 --orders=500 --concurrency=20]
 *
 * Options (argv or env): --pushes (BENCH_ERP_PUSHES, 200 incremental pushes of --push-items,
 * BENCH_ERP_PUSH_ITEMS, 500 items each), --batch-items (BENCH_ERP_BATCH_ITEMS, 5000), --orders
 * (BENCH_ERP_ORDERS, 500), --concurrency (BENCH_ERP_CONCURRENCY, 20 orders in flight).
 *
 * Phases, on a fresh migrated database and the node's real API listening on a local port:
 * 1. ERP → DB latency: sequential POST /api/sync/items of 500 changed items each (every item is
 *    written: the price changes per push), from the agent's side of the socket; p50/p95/p99
 *    against the seed's target of p95 < 200 ms.
 * 2. Batch ingest: POST /api/sync/items/batch of the same rows for a fresh vendor, items/s, against a
 *    raw multi-row `INSERT … ON CONFLICT DO UPDATE` of the same rows (chunks as ERP_INGEST_CHUNK_SIZE)
 *    into erp_items for another fresh vendor, in the same run: what validation, hashing, dedup and
 *    mapping cost on top of the write itself.
 * 3. Order delivery: orders created through the admin API, each one ErpOrderDelivery run by the
 *    node's worker in this process against a fake agent (test/support/erp-agent.ts) that answers at
 *    once; orders/s from the first create to the last completion.
 *
 * Needs DATABASE_URL and TEMPORAL_ADDRESS (or the local services of scripts/services.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pg from 'pg';
import pino from 'pino';
import { buildApp } from '../api/app';
import { createNodeWorker, bundleNodeWorkflows } from '../app/worker';
import { configSchema } from '../infra/config';
import { createDb } from '../infra/db';
import { createMetrics } from '../infra/metrics';
import { installTemporalRuntime } from '../infra/temporal/logging';
import { ensureSearchAttributes } from '../infra/temporal/search-attributes';
import { contentHash } from '../domain/erp/checksum';
import { erpOrderWorkflowId } from '../workflows/erp/ids';
import { ensureServices } from '../scripts/services';
import { BASE_MAPPINGS, FakeErpAgent, item } from '../test/support/erp-agent';
import { createBenchDatabase, codeVersion } from './lib/db';
import { HttpClient } from './lib/http';
import { intOption } from './lib/options';
import { ms, summary, table } from './lib/stats';

const PUSHES = intOption('pushes', 'BENCH_ERP_PUSHES', 200);
const PUSH_ITEMS = intOption('push-items', 'BENCH_ERP_PUSH_ITEMS', 500);
const BATCH_ITEMS = intOption('batch-items', 'BENCH_ERP_BATCH_ITEMS', 5000);
const ORDERS = intOption('orders', 'BENCH_ERP_ORDERS', 500);
const CONCURRENCY = intOption('concurrency', 'BENCH_ERP_CONCURRENCY', 20);

const ADMIN_SECRET = `bench-admin-${randomBytes(8).toString('hex')}`;
const AGENT_SECRET = `bench-agent-${randomBytes(8).toString('hex')}`;

async function main() {
  const services = process.env.DATABASE_URL && process.env.TEMPORAL_ADDRESS ? null : await ensureServices();
  const serverUrl = process.env.DATABASE_URL || services!.databaseUrl;
  const temporalAddress = process.env.TEMPORAL_ADDRESS || services!.temporalAddress;
  const database = await createBenchDatabase(serverUrl, 'velox_bench_erp');
  const taskQueue = `bench-erp-${randomBytes(4).toString('hex')}`;
  const config = Object.freeze(
    configSchema.parse({
      NODE_ID: 'bench-erp',
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ADMIN_SECRET,
      AGENT_SECRET,
      LOG_LEVEL: 'silent',
      ERP_RATE_LIMIT_SYNC: '1000000',
      ERP_RATE_LIMIT_BATCH: '1000000',
      ERP_RATE_LIMIT_ADMIN: '1000000',
      ERP_RATE_LIMIT_REGISTER: '1000000',
      ERP_SCHEDULES_ENABLED: 'false',
    }),
  );
  const log = pino({ level: 'silent' });
  installTemporalRuntime(pino({ level: 'warn' }));
  const db = createDb(database.url, config.DATABASE_POOL_SIZE);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  const app = await buildApp({
    config,
    db,
    log,
    metrics: createMetrics(),
    temporal: client,
    checkTemporal: async () => undefined,
    checkWorker: async () => undefined,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const agent = await new FakeErpAgent().start();
  const adminHttp = new HttpClient(base, ADMIN_SECRET, { maxSockets: CONCURRENCY });

  const registerVendor = async () => {
    const vendorId = `bench-${randomBytes(4).toString('hex')}`;
    const token = `bench-token-${randomBytes(16).toString('hex')}`;
    const reg = await new HttpClient(base, AGENT_SECRET).request(
      'POST',
      '/api/agents/register',
      Buffer.from(JSON.stringify({ vendorId, agentUrl: agent.url, authToken: token })),
    );
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.body}`);
    const seed = await adminHttp.request(
      'POST',
      '/api/admin/mappings/seed',
      Buffer.from(JSON.stringify({ mappings: BASE_MAPPINGS(vendorId) })),
    );
    if (seed.status !== 200) throw new Error(`seed: ${seed.status} ${seed.body}`);
    return { vendorId, http: new HttpClient(base, token) };
  };
  const items = (n: number, round: number) =>
    Array.from({ length: n }, (_, i) =>
      item(`SKU-${String(i).padStart(6, '0')}`, { price: round + i / 100 }),
    );
  const post = async (h: HttpClient, path: string, payload: unknown) => {
    const body = Buffer.from(JSON.stringify(payload));
    const t0 = performance.now();
    const res = await h.request('POST', path, body);
    const took = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.body.slice(0, 200)}`);
    const r = JSON.parse(res.body) as { processed: number; failed: number };
    if (r.failed > 0) throw new Error(`${path}: ${r.failed} failed`);
    return { took, processed: r.processed };
  };

  try {
    // 1. Incremental pushes.
    const inc = await registerVendor();
    await post(inc.http, '/api/sync/items', { vendorId: inc.vendorId, items: items(PUSH_ITEMS, 0) });
    const latencies: number[] = [];
    for (let round = 1; round <= PUSHES; round++) {
      const r = await post(inc.http, '/api/sync/items', {
        vendorId: inc.vendorId,
        items: items(PUSH_ITEMS, round),
      });
      if (r.processed !== PUSH_ITEMS) throw new Error(`push ${round}: ${r.processed} processed`);
      latencies.push(r.took);
    }
    const lat = summary(latencies);

    // 2. Batch ingest against a raw multi-row upsert of the same rows.
    const batch = await registerVendor();
    const rows = items(BATCH_ITEMS, 1);
    const b = await post(batch.http, '/api/sync/items/batch', { vendorId: batch.vendorId, items: rows });
    const raw = await rawUpsert(database.url, `raw-${batch.vendorId}`, rows, config.ERP_INGEST_CHUNK_SIZE);

    // 3. Order delivery.
    const ord = await registerVendor();
    const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    const worker = await createNodeWorker({
      config,
      db,
      log,
      connection: nativeConnection,
      workflowBundle: await bundleNodeWorkflows(log),
    });
    const running = worker.run();
    const t0 = performance.now();
    const jobIds: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, ORDERS) }, async () => {
        while (next < ORDERS) {
          next += 1;
          const res = await adminHttp.request(
            'POST',
            '/api/admin/orders/test',
            Buffer.from(JSON.stringify({ vendorId: ord.vendorId })),
          );
          if (res.status !== 202) throw new Error(`order: ${res.status} ${res.body}`);
          const { jobId } = JSON.parse(res.body) as { jobId: string };
          jobIds.push(jobId);
          await client.workflow.getHandle(erpOrderWorkflowId(jobId)).result();
        }
      }),
    );
    const orderSeconds = (performance.now() - t0) / 1000;
    worker.shutdown();
    await running;
    await nativeConnection.close();
    if (agent.orders.size !== ORDERS)
      throw new Error(`the agent has ${agent.orders.size} orders, want ${ORDERS}`);

    console.log(`# bench:erp (${codeVersion()})\n`);
    console.log(
      table(
        ['measure', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [
          [
            `ERP → DB, POST /api/sync/items of ${PUSH_ITEMS} changed items`,
            String(lat.n),
            ms(lat.p50),
            ms(lat.p95),
            ms(lat.p99),
            ms(lat.max),
          ],
        ],
      ),
    );
    console.log(`\nseed target: p95 < 200 ms → ${lat.p95 < 200 ? 'met' : 'NOT met'}\n`);
    console.log(
      table(
        ['batch of the same rows', 'items', 'ms', 'items/s'],
        [
          [
            'POST /api/sync/items/batch',
            String(BATCH_ITEMS),
            ms(b.took),
            String(Math.round(BATCH_ITEMS / (b.took / 1000))),
          ],
          [
            'raw multi-row upsert (pg)',
            String(BATCH_ITEMS),
            ms(raw),
            String(Math.round(BATCH_ITEMS / (raw / 1000))),
          ],
        ],
      ),
    );
    console.log(
      `\n${table(
        ['order delivery', 'orders', 'in flight', 's', 'orders/s'],
        [
          [
            'admin create → ErpOrderDelivery completed',
            String(ORDERS),
            String(CONCURRENCY),
            orderSeconds.toFixed(1),
            (ORDERS / orderSeconds).toFixed(1),
          ],
        ],
      )}`,
    );
  } finally {
    await app.close();
    await agent.stop();
    await connection.close();
    await db.destroy();
    await database.drop();
  }
}

/** The same rows written as erp_items rows by hand: one multi-row upsert per chunk, no pipeline. */
async function rawUpsert(
  url: string,
  vendorId: string,
  rows: ReturnType<typeof item>[],
  chunkSize: number,
): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += chunkSize) {
      const part = rows.slice(i, i + chunkSize);
      const values: unknown[] = [];
      const tuples = part.map((r, j) => {
        values.push(
          vendorId,
          r.sku,
          r.name,
          r.unit,
          r.vat,
          'kilogram',
          'vat-21',
          'fruit',
          r.price,
          JSON.stringify(r),
          contentHash(r),
          r.updatedAt,
        );
        const o = j * 12;
        return `(${Array.from({ length: 12 }, (_, k) => `$${o + k + 1}`).join(',')})`;
      });
      await c.query(
        `INSERT INTO erp_items (vendor_id, sku, name, erp_unit, erp_vat, unit_code, vat_code, family_code, price, data, content_hash, erp_updated_at)
         VALUES ${tuples.join(',')}
         ON CONFLICT (vendor_id, sku) DO UPDATE SET name = excluded.name, price = excluded.price, data = excluded.data,
           content_hash = excluded.content_hash, erp_updated_at = excluded.erp_updated_at, last_synced_at = now()`,
        values,
      );
    }
    return performance.now() - t0;
  } finally {
    await c.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
