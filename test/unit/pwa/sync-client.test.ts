// First: Dexie looks for IndexedDB when it loads.
import 'fake-indexeddb/auto';
import { backoffDelay } from '../../../pwa/src/backoff';
import { NetworkError } from '../../../pwa/src/node-api';
import { planEscrow } from '../../../pwa/src/escrow';
import { SyncClient, type SyncState } from '../../../pwa/src/sync-client';
import { contractNode, DEVICE, deviceDb, STORE } from './helpers';

// The sync client's own logic: ids and clocks of the events it writes, the backoff between failed
// attempts, and the status it reports. Rejections and resends against the real node are in
// test/integration/pwa/sync-client.test.ts.

const P = 'aaaaaaaa-0000-4000-8000-000000000001';

test('backoff doubles from the base up to the cap, with half of each wait random', () => {
  const opts = (r: number) => ({ baseMs: 1000, maxMs: 8000, random: () => r });
  expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, opts(0)))).toEqual([
    500, 1000, 2000, 4000, 4000, 4000,
  ]);
  expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, opts(0.999999)))).toEqual([
    1000, 2000, 4000, 8000, 8000, 8000,
  ]);
  expect(backoffDelay(3, opts(0.5))).toBe(3000);
});

test('events get uuid ids, consecutive seqs, a vector clock and a time that never goes back', async () => {
  const db = await deviceDb();
  let now = Date.parse('2026-12-01T12:00:00Z');
  const sync = new SyncClient({ db, api: contractNode().api, now: () => now });
  const a = await sync.record('ProductUpdated', { product_id: P, price: 1 });
  now -= 60_000; // the device's wall clock jumps back a minute
  const b = await sync.record('ProductUpdated', { product_id: P, price: 2 });
  expect(a.event_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(a.event_id).not.toBe(b.event_id);
  expect([a.seq, b.seq]).toEqual([1, 2]);
  expect([a.vector_clock, b.vector_clock]).toEqual([{ [DEVICE]: 1 }, { [DEVICE]: 2 }]);
  expect(Date.parse(b.created_at)).toBe(Date.parse(a.created_at) + 1);
});

test('failed pushes are retried after exponentially growing, jittered waits, and the status says so', async () => {
  const db = await deviceDb();
  await db.sync_state.put({ key: 'bootstrapped', value: true });
  const node = contractNode();
  let failuresLeft = 4;
  const push = node.api.push;
  node.api.push = (...args) =>
    failuresLeft-- > 0 ? Promise.reject(new NetworkError(new Error('ECONNREFUSED'))) : push(...args);
  const waits: number[] = [];
  const states: SyncState[] = [];
  const sync = new SyncClient({
    db,
    api: node.api,
    backoff: { baseMs: 100, maxMs: 1000, random: () => 0.5 },
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  sync.status.subscribe((s) => states.push(s.state));
  await sync.record('ProductUpdated', { product_id: P, price: 1 });
  expect(sync.status.get().pending).toBe(1);
  await sync.syncUntilDone();
  expect(waits).toEqual([75, 150, 300, 600]);
  expect(states).toContain('error-will-retry');
  expect(states).toContain('connecting');
  expect(sync.status.get()).toMatchObject({ state: 'online', pending: 0, last_error: null });
  expect(sync.status.get().last_synced_at).not.toBeNull();
  expect(node.pushed).toHaveLength(1);
});

test('offline, the client does not try; back online it connects and syncs', async () => {
  const db = await deviceDb();
  await db.sync_state.put({ key: 'bootstrapped', value: true });
  const node = contractNode();
  const sync = new SyncClient({ db, api: node.api });
  sync.setOnline(false);
  await sync.record('ProductUpdated', { product_id: P, price: 1 });
  await sync.syncUntilDone();
  expect(sync.status.get()).toMatchObject({ state: 'offline', pending: 1 });
  expect(node.calls).toEqual([]);
  sync.setOnline(true);
  expect(sync.status.get().state).toBe('connecting');
  await sync.syncUntilDone();
  expect(sync.status.get()).toMatchObject({ state: 'online', pending: 0 });
});

test('a snapshot replaces the caches (units in escrow elsewhere included) and keeps unsent sales counted', async () => {
  const db = await deviceDb();
  const node = contractNode();
  node.api.snapshot = async () => (
    node.calls.push('snapshot'),
    {
      position: 42,
      products: [{ id: P, name: 'Harina', price: '2.50', track_inventory: true }],
      stock: [{ product_id: P, warehouse_id: STORE, quantity: '10', reserved: '4' }],
    }
  );
  const sync = new SyncClient({ db, api: node.api });
  sync.setOnline(false);
  await sync.record('SaleCreated', { sale_id: P, items: [{ product_id: P, qty: 3, unit_price: 2.5 }] });
  await sync.pull({ refresh: true });
  expect(await db.products.get(P)).toMatchObject({ name: 'Harina', price: 2.5, track_inventory: true });
  // 10 on the node, minus the 3 of the sale it has not seen yet; 4 held for other tills.
  expect(await db.warehouse_stock_cache.get([P, STORE])).toMatchObject({ quantity: 7, reserved: 4 });
  expect((await db.sync_state.get('cursor'))!.value).toBe(42);
  expect(node.calls).toEqual(['snapshot', 'pull']);
});

test("a snapshot brings the store's sales history, so a new till's escrow plan ranks real top sellers", async () => {
  const NOW = Date.parse('2026-12-01T12:00:00Z');
  const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
  const B = 'aaaaaaaa-0000-4000-8000-00000000000b';
  const db = await deviceDb();
  const node = contractNode();
  node.api.snapshot = async () => ({
    position: 7,
    products: [
      { id: A, name: 'Arroz', price: '1', track_inventory: true },
      { id: B, name: 'Café', price: '1', track_inventory: true },
    ],
    stock: [],
    // Café sold 84 units this week on other tills (avg 12 a day), Arroz 7 (avg 1).
    sales_stats: [
      { product_id: B.toUpperCase(), day: '2026-11-26', qty: '40' },
      { product_id: B, day: '2026-12-01', qty: '44' },
      { product_id: A, day: '2026-11-30', qty: '7' },
    ],
  });
  const sync = new SyncClient({ db, api: node.api, now: () => NOW });
  // A sale of this till not pushed yet: the node does not count it, the till does.
  sync.setOnline(false);
  await sync.record('SaleCreated', { sale_id: A, items: [{ product_id: A, qty: 14, unit_price: 1 }] });
  await sync.pull({ refresh: true });
  expect(await db.sales_stats.orderBy(['product_id', 'day']).toArray()).toEqual([
    { product_id: A, day: '2026-11-30', qty: 7 },
    { product_id: A, day: '2026-12-01', qty: 14 },
    { product_id: B, day: '2026-11-26', qty: 40 },
    { product_id: B, day: '2026-12-01', qty: 44 },
  ]);
  // ceil(84 / 7 × 0.5) = 6 of Café first; Arroz: ceil(21 / 7 × 0.5) = 2.
  expect(planEscrow(await db.products.toArray(), await db.sales_stats.toArray(), NOW)).toEqual([
    { product_id: B, qty: 6 },
    { product_id: A, qty: 2 },
  ]);
});

test("a snapshot puts the product's reserved units on the row of the warehouse this till sells from", async () => {
  const W = 'dddddddd-0000-4000-8000-000000000001';
  const db = await deviceDb();
  await db.device.update('self', { warehouse_id: W });
  const node = contractNode();
  node.api.snapshot = async () => ({
    position: 1,
    products: [{ id: P, name: 'Harina', price: '1', track_inventory: true }],
    // The node reports escrow on the default warehouse's row.
    stock: [
      { product_id: P, warehouse_id: STORE, quantity: '50', reserved: '6' },
      { product_id: P, warehouse_id: W, quantity: '10' },
    ],
  });
  const sync = new SyncClient({ db, api: node.api });
  await sync.pull({ refresh: true });
  expect(await db.warehouse_stock_cache.get([P, W])).toMatchObject({ quantity: 10, reserved: 6 });
  expect(await db.warehouse_stock_cache.get([P, STORE])).toMatchObject({ quantity: 50, reserved: 0 });
});
