// First: Dexie looks for IndexedDB when it loads.
import 'fake-indexeddb/auto';
import { escrowQty, planEscrow, takeEscrow, ESCROW_TOP_PRODUCTS } from '../../../pwa/src/escrow';
import { FiscalOfflineService } from '../../../pwa/src/fiscal-offline';
import { ReconnectOrchestrator } from '../../../pwa/src/reconnect-orchestrator';
import { StockValidator } from '../../../pwa/src/stock-validator';
import { SyncClient } from '../../../pwa/src/sync-client';
import type { CachedProduct } from '../../../pwa/src/db';
import { contractNode, DEVICE, deviceDb, product, STORE } from './helpers';

// Seed 003 deliverable 12 on the device: the formula, the quotas in IndexedDB, the validator
// counting them, and the reconnect order (push, fiscal range, escrow, pull).

const NOW = Date.parse('2026-12-01T12:00:00Z');
const pid = (i: number) => `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`;
const prod = (i: number, track = true): CachedProduct => ({
  id: pid(i),
  name: `P${String(i).padStart(3, '0')}`,
  price: 1,
  track_inventory: track,
  active: true,
  sku: null,
  barcode: null,
});

test('qty = ceil(avg_daily_sales × 0.5), at least 2, at most 20', () => {
  expect([0, 1, 3, 4.2, 10, 39, 40, 41, 500].map(escrowQty)).toEqual([2, 2, 2, 3, 5, 20, 20, 20, 20]);
});

test('the plan takes the 50 best sellers that track inventory, over the last 7 days', () => {
  const products = Array.from({ length: 60 }, (_, i) => prod(i, i !== 0));
  const stats = [
    // Product 0 sells most but does not track inventory: never escrowed.
    { product_id: pid(0), day: '2026-12-01', qty: 1000 },
    // 70 units in the window: avg 10 a day, qty 5.
    { product_id: pid(5), day: '2026-11-25', qty: 30 },
    { product_id: pid(5), day: '2026-12-01', qty: 40 },
    // 280 units: avg 40, qty 20 (the cap).
    { product_id: pid(7), day: '2026-11-30', qty: 280 },
    // Before the window: does not count.
    { product_id: pid(9), day: '2026-11-24', qty: 700 },
  ];
  const plan = planEscrow(products, stats, NOW);
  expect(plan).toHaveLength(ESCROW_TOP_PRODUCTS);
  expect(plan.slice(0, 2)).toEqual([
    { product_id: pid(7), qty: 20 },
    { product_id: pid(5), qty: 5 },
  ]);
  expect(plan.some((p) => p.product_id === pid(0))).toBe(false);
  expect(plan.find((p) => p.product_id === pid(9))).toEqual({ product_id: pid(9), qty: 2 });
  expect(plan.slice(2).every((p) => p.qty === 2)).toBe(true);
});

test('taking escrow stores the granted quotas in escrow_quotas, and the validator counts them', async () => {
  const db = await deviceDb();
  const A = pid(1);
  const B = pid(2);
  await product(db, A, 'Arroz', 0);
  await product(db, B, 'Café', 0);
  // The node grants A in full and denies B.
  const node = contractNode({ escrow: (id, qty) => (id === A ? qty : 0) });
  const result = await takeEscrow(db, node.api, { store_id: STORE, device_id: DEVICE }, NOW);
  expect(result).toEqual({ granted: 1, denied: 1 });
  expect(await db.escrow_quotas.toArray()).toEqual([
    expect.objectContaining({
      product_id: A,
      qty_granted: 2,
      qty_used: 0,
      expires_at: new Date(NOW + 4 * 3_600_000).toISOString(),
    }),
  ]);
  const validator = new StockValidator(db, { warehouseId: async () => STORE, now: () => NOW });
  expect(await validator.available(A)).toBe(2);
  expect(await validator.available(B)).toBe(0);
  expect((await validator.validateBeforeSale([{ product_id: A, qty: 2, name: 'Arroz' }], false)).valid).toBe(
    true,
  );
  expect((await validator.validateBeforeSale([{ product_id: B, qty: 1, name: 'Café' }], false)).valid).toBe(
    false,
  );
});

test('a reconnect pushes first, then reserves a range, then takes escrow, then pulls', async () => {
  const db = await deviceDb();
  await product(db, pid(1), 'Arroz', 5);
  await db.sync_state.put({ key: 'bootstrapped', value: true });
  const node = contractNode();
  const sync = new SyncClient({ db, api: node.api });
  await sync.record('ProductUpdated', { product_id: pid(1), price: 3 });
  const fiscal = new FiscalOfflineService({ db, api: node.api, identity: () => sync.identity() });
  const orchestrator = new ReconnectOrchestrator({
    db,
    sync,
    fiscal,
    escrowApi: node.api,
    seriesId: async () => 'cccccccc-0000-4000-8000-000000000001',
  });
  const steps = await orchestrator.reconnect();
  expect(steps).toEqual([
    { step: 'push', ok: true },
    { step: 'fiscal-range', ok: true },
    { step: 'escrow', ok: true },
    { step: 'pull', ok: true },
  ]);
  // The last pull starts from a fresh snapshot (the contract node has none: the feed alone).
  expect(node.calls).toEqual(['push', 'reserve-range', 'escrow', 'snapshot', 'pull']);
  expect(node.pushed).toHaveLength(1);
  expect(await db.escrow_quotas.get(pid(1))).toMatchObject({ qty_granted: 2 });
});

test('a failed step does not stop the later ones', async () => {
  const db = await deviceDb();
  await db.sync_state.put({ key: 'bootstrapped', value: true });
  const node = contractNode();
  node.api.reserveFiscalRange = () => Promise.reject(new Error('no series'));
  const sync = new SyncClient({ db, api: node.api });
  const fiscal = new FiscalOfflineService({ db, api: node.api, identity: () => sync.identity() });
  const orchestrator = new ReconnectOrchestrator({
    db,
    sync,
    fiscal,
    escrowApi: node.api,
    seriesId: async () => 'x',
  });
  const steps = await orchestrator.reconnect();
  expect(steps.map((s) => [s.step, s.ok])).toEqual([
    ['push', true],
    ['fiscal-range', false],
    ['escrow', true],
    ['pull', true],
  ]);
});

test('a second grant adds to what the device still holds; each grant expires on its own', async () => {
  const db = await deviceDb();
  const A = pid(1);
  await product(db, A, 'Arroz', 30);
  const expiries = [new Date(NOW + 3_600_000).toISOString(), new Date(NOW + 5 * 3_600_000).toISOString()];
  const node = contractNode();
  let round = 0;
  node.api.grantEscrow = async (req) => {
    const expires_at = expiries[round++]!;
    return {
      granted: req.items.map((i) => ({
        grant_id: `g${round}`,
        product_id: i.product_id,
        qty_granted: 3,
        expires_at,
      })),
      denied: [],
    };
  };
  const me = { store_id: STORE, device_id: DEVICE };
  const validator = new StockValidator(db, { warehouseId: async () => STORE, now: () => NOW });
  await takeEscrow(db, node.api, me, NOW);
  // One unit of the first grant sold before the device asks again.
  await validator.decrementLocalStock([{ product_id: A, qty: 1 }]);
  await takeEscrow(db, node.api, me, NOW + 60_000);
  // The node holds 2 + 3 for this device, as two quotas: so does the device.
  expect(await db.escrow_quotas.get(A)).toMatchObject({
    qty_granted: 6,
    qty_used: 1,
    expires_at: expiries[1],
    grants: [
      { grant_id: 'g1', qty_granted: 3, remaining: 2, expires_at: expiries[0] },
      { grant_id: 'g2', qty_granted: 3, remaining: 3, expires_at: expiries[1] },
    ],
  });
  // 30 shared, 6 of them held by the node for this till (reserved), plus its own 5 left.
  expect(await db.warehouse_stock_cache.get([A, STORE])).toMatchObject({ quantity: 30, reserved: 6 });
  expect(await validator.available(A)).toBe(24 + 5);
  // Sales take the soonest-expiring grant first, as the node consumes them.
  await validator.decrementLocalStock([{ product_id: A, qty: 3 }]);
  expect((await db.escrow_quotas.get(A))!.grants!.map((g) => g.remaining)).toEqual([0, 2]);
  // After the first grant's expiry only the second one's rest counts.
  const later = new StockValidator(db, { warehouseId: async () => STORE, now: () => NOW + 2 * 3_600_000 });
  expect(await later.available(A)).toBe(24 + 2);
});

test("a grant's units are reserved on the stock row of the warehouse the till sells from", async () => {
  const W = 'dddddddd-0000-4000-8000-000000000001';
  const db = await deviceDb();
  await db.device.update('self', { warehouse_id: W });
  const A = pid(1);
  await product(db, A, 'Arroz', 40);
  await db.warehouse_stock_cache.put({ product_id: A, warehouse_id: W, quantity: 10, reserved: 0 });
  const node = contractNode();
  await takeEscrow(db, node.api, (await db.device.get('self'))!, NOW);
  expect(await db.warehouse_stock_cache.get([A, W])).toMatchObject({ quantity: 10, reserved: 2 });
  expect(await db.warehouse_stock_cache.get([A, STORE])).toMatchObject({ quantity: 40, reserved: 0 });
  // The validator of that till: 10 − 2 shared, plus its own 2: the quota is not counted twice.
  const validator = new StockValidator(db, { warehouseId: async () => W, now: () => NOW });
  expect(await validator.available(A)).toBe(10);
});
