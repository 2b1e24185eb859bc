// First: Dexie looks for IndexedDB when it loads.
import 'fake-indexeddb/auto';
import { randomUUID } from 'node:crypto';
import { PosDatabase } from '../../../pwa/src/db';
import { planEscrow } from '../../../pwa/src/escrow';
import { createNodeApi, NetworkError, type FetchLike } from '../../../pwa/src/node-api';
import { StockValidator } from '../../../pwa/src/stock-validator';
import { SyncClient } from '../../../pwa/src/sync-client';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';

// The PWA's sync client against the real node (its routes in-process, its real database): rejected
// events go to the local dead letters without holding back the rest, a resend after a lost answer
// is harmless, and a pull fills the caches and never counts the device's own sales twice.

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  await app.ready();
});
afterAll(() => app.close());

/** fetch() over the in-process node; `lose` drops answers after the node handled the request. */
function injectFetch(opts: { lose?: () => boolean } = {}): FetchLike {
  return async (input, init) => {
    const url = new URL(input, 'http://node.test');
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: url.pathname + url.search,
      headers,
      payload: typeof init?.body === 'string' ? init.body : undefined,
    });
    if (opts.lose?.()) throw new TypeError('Failed to fetch (the answer was lost)');
    return new Response(res.body, {
      status: res.statusCode,
      headers: { 'content-type': 'application/json' },
    });
  };
}

async function signedInDevice(storeId = randomUUID(), fetch: FetchLike = injectFetch()) {
  const device = await storeWithDevice(app, storeId);
  const db = new PosDatabase(`pos-${randomUUID()}`);
  await db.device.put({
    key: 'self',
    store_id: storeId,
    device_id: device.deviceId,
    token: device.token,
    series_id: null,
    warehouse_id: null,
    seq: 0,
    vector_clock: {},
    last_time_ms: 0,
  });
  const api = createNodeApi({ baseUrl: '', token: device.token, fetch });
  const sync = new SyncClient({ db, api, backoff: { baseMs: 1, maxMs: 2 } });
  return { storeId, device, db, sync };
}

async function storedEvents(storeId: string) {
  return app.t.db.selectFrom('events').select(['event_id', 'type']).where('store_id', '=', storeId).execute();
}

const sale = (productId: string, qty = 1) => ({
  sale_id: randomUUID(),
  items: [{ product_id: productId, qty, unit_price: 2 }],
  total: 2 * qty,
});

test('a rejected event moves to the dead letters; the events around it are delivered', async () => {
  const { storeId, db, sync } = await signedInDevice();
  const p = randomUUID();
  const first = await sync.record('SaleCreated', sale(p));
  // No lines: the node's schema refuses it (items.min(1)).
  const bad = await sync.record('SaleCreated', { sale_id: randomUUID(), items: [] });
  const last = await sync.record('SaleCreated', sale(p));
  const outcome = await sync.push();
  expect(outcome).toEqual({ accepted: 2, duplicates: 0, rejected: 1 });
  expect((await storedEvents(storeId)).map((e) => e.event_id).sort()).toEqual(
    [first.event_id, last.event_id].sort(),
  );
  const dead = await db.dead_letters.toArray();
  expect(dead).toEqual([
    expect.objectContaining({ event_id: bad.event_id, seq: bad.seq, code: expect.any(String) }),
  ]);
  expect(dead[0]!.message).toMatch(/items/);
  expect(sync.status.get()).toMatchObject({ pending: 0, dead: 1 });

  // The queue goes on: a later event is pushed alone, the dead one is never sent again.
  const after = await sync.record('SaleCreated', sale(p));
  expect(await sync.push()).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  expect((await storedEvents(storeId)).map((e) => e.event_id)).toContain(after.event_id);
  expect(await db.outbox.where('status').equals('pending').count()).toBe(0);
});

test('a push whose answer is lost is sent again and acknowledged as duplicates: stored once', async () => {
  let lose = true;
  const { storeId, db, sync } = await signedInDevice(randomUUID(), injectFetch({ lose: () => lose }));
  const p = randomUUID();
  const events = [await sync.record('SaleCreated', sale(p)), await sync.record('SaleCreated', sale(p))];
  await expect(sync.push()).rejects.toBeInstanceOf(NetworkError);
  // The node has them; the device does not know it.
  expect(await storedEvents(storeId)).toHaveLength(2);
  expect(await db.outbox.where('status').equals('pending').count()).toBe(2);
  lose = false;
  expect(await sync.push()).toEqual({ accepted: 0, duplicates: 2, rejected: 0 });
  expect(await db.outbox.where('status').equals('pending').count()).toBe(0);
  const stored = await storedEvents(storeId);
  expect(stored.map((e) => e.event_id).sort()).toEqual(events.map((e) => e.event_id).sort());
  const sales = await app.t.db.selectFrom('sales').select('id').where('store_id', '=', storeId).execute();
  expect(sales).toHaveLength(2);
});

test('syncUntilDone retries through lost answers until the queue is delivered', async () => {
  let drops = 3;
  const { storeId, sync } = await signedInDevice(randomUUID(), injectFetch({ lose: () => drops-- > 0 }));
  const e = await sync.record('SaleCreated', sale(randomUUID()));
  await sync.syncUntilDone();
  expect(sync.status.get()).toMatchObject({ state: 'online', pending: 0 });
  expect((await storedEvents(storeId)).map((x) => x.event_id)).toEqual([e.event_id]);
});

test("a pull fills the product and stock caches from the feed, without counting the device's own sale twice", async () => {
  const { storeId, db, sync } = await signedInDevice();
  const p = randomUUID();
  const office = new DeviceSim(storeId);
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: {
      store_id: storeId,
      device_id: office.deviceId,
      events: [
        office.event('ProductCreated', { product_id: p, name: 'Harina', price: 2 }),
        office.event('StockReceived', { product_id: p, qty: 10 }),
        office.event('SaleCreated', sale(p, 3)),
      ],
    },
  });
  expect(res.json()).toMatchObject({ rejected: [] });
  await sync.pull();
  expect(await db.products.get(p)).toMatchObject({ name: 'Harina', price: 2, track_inventory: true });
  expect((await db.warehouse_stock_cache.get([p, storeId]))!.quantity).toBe(7);

  // Our own sale: decremented locally at once, then pushed, then pulled back: still 7 - 2.
  const validator = new StockValidator(db, { warehouseId: async () => storeId });
  await db.transaction(
    'rw',
    [db.device, db.outbox, db.products, db.warehouse_stock_cache, db.escrow_quotas],
    async () => {
      await sync.append('SaleCreated', { ...sale(p, 2), warehouse_id: storeId });
      await validator.decrementLocalStock([{ product_id: p, qty: 2 }]);
    },
  );
  await sync.syncOnce();
  expect((await db.warehouse_stock_cache.get([p, storeId]))!.quantity).toBe(5);
  const cursor = (await db.sync_state.get('cursor'))!.value;
  expect(cursor).toBeGreaterThan(0);
  // The device learnt the office's clock from the pull.
  expect((await db.device.get('self'))!.vector_clock[office.deviceId]).toBe(3);
});

test("a new till starting from the node's snapshot plans escrow from the store's real top sellers", async () => {
  const storeId = randomUUID();
  const [arroz, cafe, pan] = [randomUUID(), randomUUID(), randomUUID()];
  // The store's history, sold on another till before this one ever connected.
  const DAY = 86_400_000;
  const now = Date.now();
  const office = new DeviceSim(storeId, randomUUID(), now - 3 * DAY);
  await app.inject({
    method: 'POST',
    url: '/stores',
    headers: admin,
    payload: { id: storeId, name: 'Bodega' },
  });
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: {
      store_id: storeId,
      device_id: office.deviceId,
      events: [
        office.event('ProductCreated', { product_id: arroz, name: 'Arroz', price: 1 }),
        office.event('ProductCreated', { product_id: cafe, name: 'Café', price: 1 }),
        office.event('ProductCreated', { product_id: pan, name: 'Pan', price: 1 }),
        office.event('StockReceived', { product_id: cafe, qty: 500 }),
        // 70 of Café in the week (avg 10 a day), 21 of Pan (avg 3), Arroz none.
        office.event('SaleCreated', sale(cafe, 40), { at: now - 2 * DAY }),
        office.event('SaleCreated', sale(pan, 21), { at: now - DAY }),
        office.event('SaleCreated', sale(cafe, 30), { at: now }),
      ],
    },
  });
  expect(res.json()).toMatchObject({ rejected: [] });
  const { db, sync } = await signedInDevice(storeId);
  await sync.pull();
  // The snapshot moved the cursor past those sales: only its history says what sells.
  expect(Number((await db.sync_state.get('cursor'))!.value)).toBeGreaterThan(0);
  const plan = planEscrow(await db.products.toArray(), await db.sales_stats.toArray(), Date.now());
  expect(plan).toEqual([
    { product_id: cafe, qty: 5 },
    { product_id: pan, qty: 2 },
    { product_id: arroz, qty: 2 },
  ]);
});
