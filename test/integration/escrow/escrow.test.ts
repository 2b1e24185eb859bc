import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy, type Client, type Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { sql } from 'kysely';
import pino from 'pino';
import { syncEventSchema } from '../../../domain/events/schemas';
import { ingestEvents } from '../../../infra/eventlog/ingest';
import { ensureSchedules } from '../../../actors/schedules';
import { createEscrowActivities } from '../../../activities/escrow';
import { connectWorker, createNodeWorker } from '../../../app/worker';
import { connectTemporal } from '../../../infra/temporal/client';
import { ensureSearchAttributes } from '../../../infra/temporal/search-attributes';
import { listAlerts } from '../../../infra/repositories/alerts';
import {
  escrowGrantWorkflowId,
  orphanHealerScheduleId,
  oversellDetectorScheduleId,
  reconcileSweepScheduleId,
} from '../../../workflows/ids';
import { DeviceIdKey, StoreIdKey } from '../../../workflows/search-keys';
import { escrowStateQuery } from '../../../workflows/escrow-grant';
import { admin, createTestApp, storeWithDevice, testConfig, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';
import { bundleWorkflows, recordHistory, testLog, uniqueName } from '../../support/temporal';

// Inventory escrow on one node against the real PostgreSQL and a real Temporal dev server (a worker
// of this file's own task queue): seed 003 Phase 4 deliverables 12–14 (backend) and Phase 6 suite 1.

const PEER_TOKEN = `peer-token-escrow-${randomUUID()}`;
const nodeId = uniqueName('node-escrow');
let app: TestApp;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  const overrides = {
    NODE_ID: nodeId,
    TEMPORAL_TASK_QUEUE: uniqueName('escrow'),
    // A peer token so a test can push as a peer (system-federation); nothing listens there.
    PEERS: JSON.stringify([{ id: 'peer-x', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
    RELAY_HTTP_TIMEOUT_MS: '500',
    OVERSELL_DETECTOR_INTERVAL_SECONDS: '1',
  };
  const bundle = bundleWorkflows();
  ({ connection, client } = await connectTemporal(testConfig(overrides)));
  app = await createTestApp(overrides, { temporal: client });
  nativeConnection = await connectWorker(app.config);
  await ensureSearchAttributes(nativeConnection, app.config.TEMPORAL_NAMESPACE);
  worker = await createNodeWorker({
    config: app.config,
    db: app.t.db,
    log: testLog,
    connection: nativeConnection,
    workflowBundle: await bundle,
  });
  running = worker.run();
});

afterAll(async () => {
  for (const id of [
    orphanHealerScheduleId(nodeId),
    reconcileSweepScheduleId(nodeId),
    oversellDetectorScheduleId(nodeId),
  ]) {
    await client?.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  }
  if (worker) {
    worker.shutdown();
    await running;
  }
  await nativeConnection?.close();
  await connection?.close();
  await app?.close();
});

interface Granted {
  granted: { grant_id: string; product_id: string; qty_granted: number; expires_at: string }[];
  denied: { product_id: string; reason: string }[];
}
type Device = Awaited<ReturnType<typeof storeWithDevice>> & { sim: DeviceSim; storeId: string };

async function newStore(devices = 1): Promise<Device[]> {
  const storeId = randomUUID();
  const out: Device[] = [];
  for (let i = 0; i < devices; i++) {
    const d = await storeWithDevice(app, storeId);
    out.push({ ...d, storeId, sim: new DeviceSim(storeId, d.deviceId) });
  }
  return out;
}

async function pushAs(d: Device, events: unknown[], headers = d.headers) {
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: d.storeId, device_id: d.deviceId, events },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json<{ accepted: string[]; rejected: unknown[] }>();
  expect(body.rejected).toEqual([]);
  return body;
}

async function stockUp(d: Device, qty: number, name = 'Harina PAN'): Promise<string> {
  const product = randomUUID();
  await pushAs(d, [
    d.sim.event('ProductCreated', { product_id: product, name, price: 2 }),
    d.sim.event('StockReceived', { product_id: product, qty }),
  ]);
  return product;
}

function grant(
  d: Device,
  items: { product_id: string; qty: number; expires_at?: string }[],
  headers = d.headers,
) {
  return app.inject({
    method: 'POST',
    url: '/inventory/escrow/batch-grant',
    headers,
    payload: { store_id: d.storeId, device_id: d.deviceId, items },
  });
}

async function granted(d: Device, items: { product_id: string; qty: number; expires_at?: string }[]) {
  const res = await grant(d, items);
  expect([res.statusCode, res.statusCode === 200 ? '' : res.body]).toEqual([200, '']);
  return res.json<Granted>();
}

const sale = (d: Device, product: string, qty: number) =>
  d.sim.event('SaleCreated', {
    sale_id: randomUUID(),
    items: [{ product_id: product, qty, unit_price: 2 }],
  });

async function stockOf(storeId: string, product: string): Promise<number> {
  const r = await sql<{ stock: string }>`
    SELECT coalesce(sum(stock), 0)::text AS stock FROM warehouse_stock
    WHERE store_id = ${storeId} AND product_id = ${product}`.execute(app.t.db);
  return Number(r.rows[0]!.stock);
}

async function quotas(d: Device) {
  const res = await app.inject({
    method: 'GET',
    url: `/inventory/escrow/quotas?store_id=${d.storeId}&device_id=${d.deviceId}`,
    headers: d.headers,
  });
  expect(res.statusCode).toBe(200);
  return res.json<{
    quotas: { grant_id: string; product_id: string; remaining: number; qty_consumed: number }[];
  }>().quotas;
}

const oversellAlerts = (storeId: string) =>
  listAlerts(app.t.db, { store_id: storeId, type: 'OVERSELLING_DETECTED' });

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

describe('POST /inventory/escrow/batch-grant (deliverable 12)', () => {
  test('never more than 30 % of the stock per device, partial when short, expiry 4 h by default', async () => {
    const [d] = await newStore();
    const harina = await stockUp(d!, 10);
    const arroz = await stockUp(d!, 100, 'Arroz');
    const before = Date.now();
    const body = await granted(d!, [
      { product_id: harina, qty: 5 },
      { product_id: arroz, qty: 20 },
    ]);
    expect(body.denied).toEqual([]);
    expect(body.granted.map((g) => [g.product_id, g.qty_granted])).toEqual([
      [harina, 3],
      [arroz, 20],
    ]);
    for (const g of body.granted) {
      const ttl = Date.parse(g.expires_at) - before;
      expect(ttl).toBeGreaterThan(4 * 3600_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(4 * 3600_000 + 60_000);
    }
    // The device already holds 30 % of the flour: no more of it.
    const again = await granted(d!, [{ product_id: harina, qty: 1 }]);
    expect(again).toEqual({ granted: [], denied: [{ product_id: harina, reason: 'DEVICE_LIMIT' }] });

    expect((await quotas(d!)).map((q) => [q.product_id, q.remaining]).sort()).toEqual(
      [
        [harina, 3],
        [arroz, 20],
      ].sort(),
    );
  });

  test('each grant is an EscrowGranted event and an EscrowGrant workflow searchable by store and device', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 10);
    const body = await granted(d!, [{ product_id: product, qty: 2 }]);
    const g = body.granted[0]!;
    const events = await app.t.db
      .selectFrom('events')
      .select(['type', 'payload', 'device_id', 'origin_node'])
      .where('store_id', '=', d!.storeId)
      .where('type', '=', 'EscrowGranted')
      .execute();
    expect(events).toEqual([
      {
        type: 'EscrowGranted',
        device_id: `node:${nodeId}`,
        origin_node: nodeId,
        payload: expect.objectContaining({
          grant_id: g.grant_id,
          qty: 2,
          node_id: nodeId,
          device_id: d!.deviceId,
        }),
      },
    ]);
    const handle = client.workflow.getHandle(escrowGrantWorkflowId(g.grant_id));
    const described = await handle.describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.typedSearchAttributes.get(StoreIdKey)).toBe(d!.storeId);
    expect(described.typedSearchAttributes.get(DeviceIdKey)).toBe(d!.deviceId);
    expect(await handle.query(escrowStateQuery)).toMatchObject({ phase: 'held' });
    await handle.terminate('test done');
  });

  test('short stock: what is left unreserved, then nothing (OUT_OF_STOCK); unknown stock is out of stock', async () => {
    const devices = await newStore(5);
    const product = await stockUp(devices[0]!, 4);
    const got: number[] = [];
    for (const d of devices) {
      const body = await granted(d, [{ product_id: product, qty: 4 }]);
      got.push(body.granted[0]?.qty_granted ?? 0);
    }
    // 30 % of 4, of 3, of 2 … in whole units: 1, and then the device share is below one unit.
    expect(got.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4);
    const lonely = await granted(devices[0]!, [{ product_id: randomUUID(), qty: 1 }]);
    expect(lonely.denied).toEqual([{ product_id: expect.any(String), reason: 'OUT_OF_STOCK' }]);
  });

  test('partial grant when the unreserved remainder is smaller than asked', async () => {
    const devices = await newStore(4);
    const product = await stockUp(devices[0]!, 20);
    const asks = [];
    for (const d of devices)
      asks.push((await granted(d, [{ product_id: product, qty: 6 }])).granted[0]?.qty_granted);
    // 30 % of 20 = 6; of 14 = 4.2 → 4; of 10 = 3; of 7 = 2.1 → 2.
    expect(asks).toEqual([6, 4, 3, 2]);
  });

  test('a device token grants for its own device and store only; items are validated', async () => {
    const [a, b] = await newStore(2);
    const [other] = await newStore();
    const product = await stockUp(a!, 10);
    const forB = await app.inject({
      method: 'POST',
      url: '/inventory/escrow/batch-grant',
      headers: a!.headers,
      payload: { store_id: a!.storeId, device_id: b!.deviceId, items: [{ product_id: product, qty: 1 }] },
    });
    expect(forB.statusCode).toBe(403);
    const otherStore = await grant({ ...a!, storeId: other!.storeId }, [{ product_id: product, qty: 1 }]);
    expect(otherStore.statusCode).toBe(403);
    const byAdmin = await grant(b!, [{ product_id: product, qty: 1 }], admin);
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json<Granted>().granted).toHaveLength(1);
    expect(await granted(a!, [])).toEqual({ granted: [], denied: [] });
    for (const items of [[{ product_id: product, qty: -1 }], [{ product_id: 'nope', qty: 1 }]]) {
      expect((await grant(a!, items as never)).statusCode).toBe(400);
    }
    const odd = await granted(a!, [
      { product_id: product, qty: 1, expires_at: new Date(Date.now() - 1000).toISOString() },
      { product_id: randomUUID(), qty: 1, expires_at: new Date(Date.now() + 48 * 3600_000).toISOString() },
    ]);
    expect(odd.denied.map((x) => x.reason)).toEqual(['INVALID_EXPIRY', 'INVALID_EXPIRY']);
  });

  test('concurrent grants for one product never exceed the stock (serialised per store and product)', async () => {
    const devices = await newStore(20);
    const product = await stockUp(devices[0]!, 100);
    const answers = await Promise.all(devices.map((d) => granted(d, [{ product_id: product, qty: 30 }])));
    const qtys = answers.map((a) => a.granted[0]?.qty_granted ?? 0);
    // Whatever the order, each takes floor(30 % of what the others left): the same multiset of grants.
    const sequential: number[] = [];
    let left = 100;
    for (let i = 0; i < 20; i++) {
      const q = Math.min(30, Math.floor(0.3 * left));
      sequential.push(q);
      left -= q;
    }
    expect([...qtys].sort((x, y) => x - y)).toEqual([...sequential].sort((x, y) => x - y));
    expect(qtys.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
  });
});

describe('quota consumption and expiry (deliverables 12, 8)', () => {
  test('an offline device consumes its quota in the push transaction; beyond it, the sale is kept unconsumed', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 10);
    const g = (await granted(d!, [{ product_id: product, qty: 3 }])).granted[0]!;
    await pushAs(d!, [sale(d!, product, 2)]);
    expect(await quotas(d!)).toMatchObject([{ grant_id: g.grant_id, remaining: 1, qty_consumed: 2 }]);
    await pushAs(d!, [sale(d!, product, 4)]);
    expect(await quotas(d!)).toEqual([]);
    const consumed = await app.t.db
      .selectFrom('events')
      .select(['payload', 'origin_node'])
      .where('store_id', '=', d!.storeId)
      .where('type', '=', 'EscrowConsumed')
      .execute();
    expect(consumed.map((e) => (e.payload as { lines: { qty: number }[] }).lines.map((l) => l.qty))).toEqual([
      [2],
      [1],
    ]);
    expect(await stockOf(d!.storeId, product)).toBe(4);
    await client.workflow.getHandle(escrowGrantWorkflowId(g.grant_id)).terminate('test done');
  });

  test('the EscrowGrant workflow releases the unconsumed rest at expiry (seconds here), once', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 10);
    const expires = new Date(Date.now() + 3000).toISOString();
    const g = (await granted(d!, [{ product_id: product, qty: 3, expires_at: expires }])).granted[0]!;
    await pushAs(d!, [sale(d!, product, 1)]);
    const handle = client.workflow.getHandle(escrowGrantWorkflowId(g.grant_id));
    const outcome = await handle.result();
    expect(outcome).toEqual({ found: true, released: true, qty_released: 2, qty_consumed: 1 });
    const release = await app.t.db
      .selectFrom('escrow_releases')
      .selectAll()
      .where('store_id', '=', d!.storeId)
      .executeTakeFirstOrThrow();
    expect(Number(release.qty_released)).toBe(2);
    expect(await quotas(d!)).toEqual([]);
    // The rights came back: another device may take them (30 % of 9 → 2).
    const [other] = await newStoreDevice(d!);
    expect((await granted(other!, [{ product_id: product, qty: 5 }])).granted[0]?.qty_granted).toBe(2);
    // A sale after the release consumes nothing.
    await pushAs(d!, [sale(d!, product, 1)]);
    expect(
      await app.t.db
        .selectFrom('escrow_consumptions')
        .select('qty')
        .where('grant_id', '=', g.grant_id)
        .execute(),
    ).toHaveLength(1);
    await recordHistory(handle, 'escrow-grant');
  });
});

async function newStoreDevice(of: Device): Promise<Device[]> {
  const res = await app.inject({
    method: 'POST',
    url: `/stores/${of.storeId}/devices`,
    headers: admin,
    payload: { name: 'POS 2' },
  });
  const body = res.json<{ device_id: string; token: string }>();
  return [
    {
      deviceId: body.device_id,
      token: body.token,
      headers: { authorization: `Bearer ${body.token}` },
      storeId: of.storeId,
      sim: new DeviceSim(of.storeId, body.device_id),
    },
  ];
}

describe('soft server stock check (deliverable 13)', () => {
  test('a sale within the stock raises nothing', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 5);
    await pushAs(d!, [sale(d!, product, 5)]);
    expect(await oversellAlerts(d!.storeId)).toEqual([]);
  });

  test('overselling is accepted, logged and alerted once per product within the hour', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 2, 'Aceite Mazeite');
    const oversell = sale(d!, product, 3);
    const body = await pushAs(d!, [oversell]);
    expect(body.accepted).toEqual([oversell.event_id]);
    expect(
      await app.t.db.selectFrom('sales').select('id').where('store_id', '=', d!.storeId).execute(),
    ).toHaveLength(1);
    expect(await stockOf(d!.storeId, product)).toBe(-1);
    const alerts = await oversellAlerts(d!.storeId);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      severity: 'P2',
      subject: expect.stringContaining('Aceite Mazeite'),
      payload: expect.objectContaining({
        product_id: product,
        stock_after: -1,
        sale_event_ids: [oversell.event_id],
      }),
    });
    expect(alerts[0]!.subject).toContain('-1');
    await pushAs(d!, [sale(d!, product, 1)]);
    const after = await oversellAlerts(d!.storeId);
    expect(after).toHaveLength(1);
    expect(after[0]!.occurrences).toBe(2);
  });

  test('the overselling is logged as a warning naming the product and the sale', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 1, 'Café Madrid');
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const oversell = syncEventSchema.parse(sale(d!, product, 2));
    const result = await ingestEvents(app.t.db, [oversell], { nodeId, source: 'device' }, log);
    expect(result.accepted).toEqual([oversell.event_id]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'overselling detected: sale accepted, stock below zero',
        product_id: product,
        product_name: 'Café Madrid',
        stock_after: -1,
        sale_event_ids: [oversell.event_id],
      }),
    );
  });

  test('a sale relayed by a peer (system-federation) is not checked', async () => {
    const [d] = await newStore();
    const product = await stockUp(d!, 1);
    const relayed = { ...sale(d!, product, 5), origin_node: 'peer-x', hlc: new Date().toISOString() };
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: { authorization: `Bearer ${PEER_TOKEN}` },
      payload: { store_id: d!.storeId, device_id: 'peer-x', events: [relayed] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ accepted: string[] }>().accepted).toEqual([relayed.event_id]);
    expect(await stockOf(d!.storeId, product)).toBe(-4);
    expect(await oversellAlerts(d!.storeId)).toEqual([]);
  });
});

describe('oversell detector (deliverable 14)', () => {
  test('negative stock → an alert naming the product and the quantity; not again within the hour', async () => {
    const [d] = await newStore();
    const product = randomUUID();
    await pushAs(d!, [
      d!.sim.event('ProductCreated', { product_id: product, name: 'Queso llanero', price: 4 }),
      d!.sim.event('StockAdjusted', { product_id: product, qty_delta: -3, reason: 'conteo' }),
    ]);
    expect(await oversellAlerts(d!.storeId)).toEqual([]);
    const { detectOverselling } = createEscrowActivities({ db: app.t.db, log: testLog, config: app.config });
    const first = await detectOverselling();
    expect(first.raised).toBeGreaterThanOrEqual(1);
    const alerts = await oversellAlerts(d!.storeId);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.subject).toContain('Queso llanero');
    expect(alerts[0]!.subject).toContain('-3');
    expect(alerts[0]!.payload).toMatchObject({
      product_id: product,
      stock: -3,
      product_name: 'Queso llanero',
    });
    await detectOverselling();
    const again = await oversellAlerts(d!.storeId);
    expect(again).toHaveLength(1);
    expect(again[0]!.occurrences).toBe(2);
  });

  test('runs on a Temporal Schedule with overlap SKIP, with nobody calling it', async () => {
    const [d] = await newStore();
    const product = randomUUID();
    await pushAs(d!, [d!.sim.event('StockAdjusted', { product_id: product, qty_delta: -1 })]);
    const ids = await ensureSchedules(client, app.config);
    expect(ids).toContain(oversellDetectorScheduleId(nodeId));
    const described = await client.schedule.getHandle(oversellDetectorScheduleId(nodeId)).describe();
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.action).toMatchObject({ workflowType: 'oversellDetectorWorkflow' });
    await waitFor(
      'the scheduled detector raised the alert',
      () => oversellAlerts(d!.storeId),
      (a) => a.length === 1,
    );
    for (const id of [orphanHealerScheduleId(nodeId), reconcileSweepScheduleId(nodeId)]) {
      await client.schedule.getHandle(id).delete();
    }
    // Production default: every 5 minutes.
    expect(
      (await import('../../../actors/schedules')).scheduleDefinitions({
        ...app.config,
        OVERSELL_DETECTOR_INTERVAL_SECONDS: 300,
      })[2]!.spec,
    ).toEqual({ intervals: [{ every: '300 seconds' }] });
  });
});

describe('Chaos: overselling (seed 003 Phase 6 suite 1)', () => {
  test('two offline POS sell more than the stock: both sales kept, stock -2, oversell alert', async () => {
    const [a, b] = await newStore(2);
    const product = await stockUp(a!, 5);
    // Offline: each builds its sale without hearing from the other; both sync afterwards.
    const saleA = sale(a!, product, 4);
    const saleB = sale(b!, product, 3);
    await pushAs(a!, [saleA]);
    await pushAs(b!, [saleB]);
    const sales = await app.t.db
      .selectFrom('sales')
      .select('event_id')
      .where('store_id', '=', a!.storeId)
      .execute();
    expect(sales.map((s) => s.event_id).sort()).toEqual([saleA.event_id, saleB.event_id].sort());
    expect(await stockOf(a!.storeId, product)).toBe(-2);
    expect(await oversellAlerts(a!.storeId)).toHaveLength(1);
  });

  test('with escrow, devices that sell only what their quotas hold never sell more than the stock', async () => {
    const devices = await newStore(6);
    const product = await stockUp(devices[0]!, 5);
    const held: number[] = [];
    for (const d of devices)
      held.push((await granted(d, [{ product_id: product, qty: 5 }])).granted[0]?.qty_granted ?? 0);
    expect(held.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(5);
    // Offline, each till sells what its quota holds (the PWA's validator blocks beyond it).
    for (const [i, d] of devices.entries()) if (held[i]! > 0) await pushAs(d, [sale(d, product, held[i]!)]);
    expect(await stockOf(devices[0]!.storeId, product)).toBeGreaterThanOrEqual(0);
    expect(await oversellAlerts(devices[0]!.storeId)).toEqual([]);
    const consumed = await sql<{ n: string }>`
      SELECT coalesce(sum(qty), 0)::text AS n FROM escrow_consumptions WHERE store_id = ${devices[0]!.storeId}`.execute(
      app.t.db,
    );
    expect(Number(consumed.rows[0]!.n)).toBe(held.reduce((x, y) => x + y, 0));
    for (const g of await app.t.db
      .selectFrom('escrow_quotas')
      .select('grant_id')
      .where('store_id', '=', devices[0]!.storeId)
      .execute()) {
      await client.workflow
        .getHandle(escrowGrantWorkflowId(g.grant_id))
        .terminate('test done')
        .catch(() => undefined);
    }
  });
});
