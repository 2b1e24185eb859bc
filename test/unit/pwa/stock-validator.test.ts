// First: Dexie looks for IndexedDB when it loads.
import 'fake-indexeddb/auto';
import { FiscalOfflineService } from '../../../pwa/src/fiscal-offline';
import { SaleService } from '../../../pwa/src/sales';
import { StockValidator } from '../../../pwa/src/stock-validator';
import { SyncClient } from '../../../pwa/src/sync-client';
import { contractNode, deviceDb, product, STORE } from './helpers';

// Seed 003 deliverable 5: the policy table and every test it lists, plus escrow (deliverable 12).

const P = 'aaaaaaaa-0000-4000-8000-000000000001';
const NOW = Date.parse('2026-12-01T12:00:00Z');

async function setup(stock: number | null, track = true) {
  const db = await deviceDb();
  await product(db, P, 'Harina', stock, track);
  const validator = new StockValidator(db, { warehouseId: async () => STORE, now: () => NOW });
  return { db, validator };
}
const line = (qty: number) => [{ product_id: P, qty, name: 'Harina' }];

test('enough stock: valid, no warnings, no errors (online and offline)', async () => {
  const { validator } = await setup(10);
  for (const online of [true, false]) {
    expect(await validator.validateBeforeSale(line(3), online)).toEqual({
      valid: true,
      warnings: [],
      errors: [],
    });
  }
  // Exactly the stock is enough too.
  expect((await validator.validateBeforeSale(line(10), false)).warnings).toEqual([]);
});

test('0 < stock < qty: one warning, allowed, online and offline', async () => {
  const { validator } = await setup(2);
  for (const online of [true, false]) {
    const r = await validator.validateBeforeSale(line(5), online);
    expect(r.valid).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      expect.objectContaining({ product_id: P, product_name: 'Harina', requested: 5, available: 2 }),
    ]);
  }
});

test('stock = 0 offline: blocked with one error', async () => {
  const { validator } = await setup(0);
  const r = await validator.validateBeforeSale(line(1), false);
  expect(r.valid).toBe(false);
  expect(r.warnings).toEqual([]);
  expect(r.errors).toEqual([expect.objectContaining({ product_id: P, requested: 1, available: 0 })]);
});

test('stock = 0 online: valid with one warning (fail open)', async () => {
  const { validator } = await setup(0);
  const r = await validator.validateBeforeSale(line(1), true);
  expect(r).toEqual({ valid: true, errors: [], warnings: [expect.objectContaining({ available: 0 })] });
});

test('stock < 0: warning online, blocked offline', async () => {
  const { validator } = await setup(-3);
  const online = await validator.validateBeforeSale(line(1), true);
  expect([online.valid, online.warnings.length, online.errors.length]).toEqual([true, 1, 0]);
  const offline = await validator.validateBeforeSale(line(1), false);
  expect([offline.valid, offline.warnings.length, offline.errors.length]).toEqual([false, 0, 1]);
  expect(offline.errors[0]!.available).toBe(-3);
});

test('a product without track_inventory is always allowed, with no stock row at all', async () => {
  const { validator } = await setup(null, false);
  for (const online of [true, false]) {
    expect(await validator.validateBeforeSale(line(99), online)).toEqual({
      valid: true,
      warnings: [],
      errors: [],
    });
  }
});

test('an IndexedDB error fails open: valid, no errors, online and offline', async () => {
  const { db } = await setup(0);
  const seen: unknown[] = [];
  const failing = new StockValidator(db, {
    warehouseId: async () => STORE,
    onStorageError: (e) => seen.push(e),
  });
  db.close();
  for (const online of [true, false]) {
    expect(await failing.validateBeforeSale(line(1), online)).toEqual({
      valid: true,
      warnings: [],
      errors: [],
    });
  }
  expect(seen).toHaveLength(2);
});

test('a storage error reading the products at checkout fails open too: the sale is written', async () => {
  const { db, validator } = await setup(5);
  const node = contractNode();
  const sync = new SyncClient({ db, api: node.api });
  sync.setOnline(false);
  const seen: unknown[] = [];
  const sales = new SaleService({
    db,
    sync,
    validator,
    fiscal: new FiscalOfflineService({ db, api: node.api, identity: () => sync.identity() }),
    seriesId: async () => null,
    warehouseId: async () => STORE,
    onStorageError: (e) => seen.push(e),
  });
  // IndexedDB fails the checkout's read of the product cache (a quota or a corrupt-store error).
  const failure = new Error('UnknownError: the product store could not be read');
  const bulkGet = jest.spyOn(db.products, 'bulkGet').mockRejectedValueOnce(failure);
  const sold = await sales.sell([{ product_id: P, qty: 2, name: 'Harina', unit_price: 2.5 }]);
  bulkGet.mockRestore();
  expect(seen).toEqual([failure]);
  // Priced from the cart the till showed; stock checked and decremented as usual.
  expect(sold).toMatchObject({ status: 'sold', total: 5, warnings: [] });
  expect((await db.warehouse_stock_cache.get([P, STORE]))!.quantity).toBe(3);
  const [queued] = await sync.pendingEvents();
  expect(queued!.event.payload).toMatchObject({ items: [{ product_id: P, qty: 2, unit_price: 2.5 }] });
});

test('decrementLocalStock lowers the local stock, and the next validation sees it', async () => {
  const { db, validator } = await setup(3);
  expect((await validator.validateBeforeSale(line(3), false)).valid).toBe(true);
  await validator.decrementLocalStock([{ product_id: P, qty: 2 }]);
  expect((await db.warehouse_stock_cache.get([P, STORE]))!.quantity).toBe(1);
  const after = await validator.validateBeforeSale(line(3), false);
  expect(after.warnings).toEqual([expect.objectContaining({ available: 1, requested: 3 })]);
  await validator.decrementLocalStock([{ product_id: P, qty: 1 }]);
  expect((await validator.validateBeforeSale(line(1), false)).valid).toBe(false);
});

test('two lines of one product are one demand on its stock', async () => {
  const { validator } = await setup(3);
  const r = await validator.validateBeforeSale([...line(2), ...line(2)], true);
  expect(r.warnings).toEqual([expect.objectContaining({ requested: 4, available: 3 })]);
});

test("the device's escrow quota counts as available; units held for other devices do not", async () => {
  const { db, validator } = await setup(0);
  await db.escrow_quotas.put({
    product_id: P,
    qty_granted: 2,
    qty_used: 0,
    expires_at: new Date(NOW + 3_600_000).toISOString(),
    granted_at: new Date(NOW).toISOString(),
  });
  expect(await validator.validateBeforeSale(line(2), false)).toEqual({
    valid: true,
    warnings: [],
    errors: [],
  });
  // Others' escrow is not for this till: 5 in stock, 5 held elsewhere, 2 of its own.
  await db.warehouse_stock_cache.put({ product_id: P, warehouse_id: STORE, quantity: 5, reserved: 5 });
  expect(await validator.available(P)).toBe(2);
  // Offline the device consumes its escrow first, then has nothing left.
  await validator.decrementLocalStock([{ product_id: P, qty: 2 }]);
  expect((await db.escrow_quotas.get(P))!.qty_used).toBe(2);
  expect((await db.warehouse_stock_cache.get([P, STORE]))!.quantity).toBe(5);
  expect((await validator.validateBeforeSale(line(1), false)).valid).toBe(false);
});

test('an expired escrow quota counts for nothing', async () => {
  const { db, validator } = await setup(0);
  await db.escrow_quotas.put({
    product_id: P,
    qty_granted: 5,
    qty_used: 0,
    expires_at: new Date(NOW - 1).toISOString(),
    granted_at: new Date(NOW - 4 * 3_600_000).toISOString(),
  });
  expect((await validator.validateBeforeSale(line(1), false)).valid).toBe(false);
});
