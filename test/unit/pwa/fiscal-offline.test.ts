// First: Dexie looks for IndexedDB when it loads.
import 'fake-indexeddb/auto';
import { FiscalOfflineService, FiscalRangeExhaustedError } from '../../../pwa/src/fiscal-offline';
import { PosDatabase } from '../../../pwa/src/db';
import { ReconnectOrchestrator } from '../../../pwa/src/reconnect-orchestrator';
import { SaleService } from '../../../pwa/src/sales';
import { StockValidator } from '../../../pwa/src/stock-validator';
import { SyncClient } from '../../../pwa/src/sync-client';
import { contractNode, DEVICE, deviceDb, product, STORE } from './helpers';

// Seed 003 deliverable 9, the PWA tests: reserve on connect, consume offline in sequence, used up
// offline is an error, a reconnect reserves a new range, and the range survives a reload.

const SERIES = 'cccccccc-0000-4000-8000-000000000001';
const P = 'aaaaaaaa-0000-4000-8000-000000000001';

function services(db: PosDatabase, node: ReturnType<typeof contractNode>) {
  const sync = new SyncClient({ db, api: node.api });
  const fiscal = new FiscalOfflineService({
    db,
    api: node.api,
    identity: () => sync.identity(),
    rangeSize: 3,
  });
  const validator = new StockValidator(db, { warehouseId: async () => STORE });
  const sales = new SaleService({
    db,
    sync,
    validator,
    fiscal,
    seriesId: async () => SERIES,
    warehouseId: async () => STORE,
  });
  const orchestrator = new ReconnectOrchestrator({
    db,
    sync,
    fiscal,
    escrowApi: node.api,
    seriesId: async () => SERIES,
  });
  return { sync, fiscal, sales, orchestrator };
}

test('connecting reserves a range when the device has none, and not again while it is active', async () => {
  const db = await deviceDb();
  const node = contractNode();
  const { fiscal, orchestrator } = services(db, node);
  expect(await fiscal.getActiveRange(SERIES)).toBeNull();
  const steps = await orchestrator.reconnect();
  expect(steps.every((s) => s.ok)).toBe(true);
  expect(await fiscal.getActiveRange(SERIES)).toMatchObject({ range_start: 1, range_end: 3, next_number: 1 });
  expect(node.ranges).toEqual([expect.objectContaining({ device_id: DEVICE, series_id: SERIES })]);
  await orchestrator.reconnect();
  expect(node.calls.filter((c) => c === 'reserve-range')).toHaveLength(1);
});

test('offline sales take the range numbers in sequence; used up offline is an error and no invoice', async () => {
  const db = await deviceDb();
  await product(db, P, 'Harina', 100);
  const node = contractNode();
  const { fiscal, sales, sync } = services(db, node);
  await fiscal.ensureRange(SERIES);
  sync.setOnline(false);
  const numbers: (number | null)[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await sales.sell([{ product_id: P, qty: 1 }]);
    numbers.push(r.status === 'sold' ? r.fiscal_number : null);
  }
  expect(numbers).toEqual([1, 2, 3]);
  const refused = await sales.sell([{ product_id: P, qty: 1 }]);
  expect(refused).toEqual({
    status: 'blocked',
    errors: [{ message: expect.stringMatching(/Cannot invoice offline/) }],
  });
  await expect(fiscal.consumeNext(SERIES)).rejects.toBeInstanceOf(FiscalRangeExhaustedError);
  // Nothing of the refused sale was written: three events, stock down by three, no range call offline.
  expect(await db.outbox.count()).toBe(3);
  expect((await db.warehouse_stock_cache.get([P, STORE]))!.quantity).toBe(97);
  expect(node.calls.filter((c) => c === 'reserve-range')).toHaveLength(1);
  const payloads = (await db.outbox.orderBy('seq').toArray()).map((q) => q.event.payload);
  expect(payloads.map((p) => [p.invoice_series_id, p.fiscal_number])).toEqual([
    [SERIES, 1],
    [SERIES, 2],
    [SERIES, 3],
  ]);
});

test('a reconnect after the range is used up reserves a new one, which does not overlap', async () => {
  const db = await deviceDb();
  await product(db, P, 'Harina', 100);
  const node = contractNode();
  const { fiscal, sales, sync, orchestrator } = services(db, node);
  await orchestrator.reconnect();
  sync.setOnline(false);
  for (let i = 0; i < 3; i++) await sales.sell([{ product_id: P, qty: 1 }]);
  expect(await fiscal.getActiveRange(SERIES)).toBeNull();
  sync.setOnline(true);
  await orchestrator.reconnect();
  expect(await fiscal.getActiveRange(SERIES)).toMatchObject({ range_start: 4, range_end: 6, next_number: 4 });
  const r = await sales.sell([{ product_id: P, qty: 1 }]);
  expect(r).toMatchObject({ status: 'sold', fiscal_number: 4 });
});

test('online with the range used up, a sale reserves a new range itself', async () => {
  const db = await deviceDb();
  await product(db, P, 'Harina', 100);
  const node = contractNode();
  const { fiscal, sales, sync } = services(db, node);
  await fiscal.ensureRange(SERIES);
  for (let i = 0; i < 3; i++) await sales.sell([{ product_id: P, qty: 1 }]);
  // The node learns what was used from the pushed sales before it grants again.
  await sync.push();
  expect(await sales.sell([{ product_id: P, qty: 1 }])).toMatchObject({ status: 'sold', fiscal_number: 4 });
});

test('the range and its position survive a reload (a new database handle on the same IndexedDB)', async () => {
  const db = await deviceDb();
  const node = contractNode();
  const first = services(db, node);
  await first.fiscal.ensureRange(SERIES);
  expect(await first.fiscal.consumeNext(SERIES)).toBe(1);
  db.close();

  const reopened = new PosDatabase(db.name);
  const second = services(reopened, node);
  expect(await second.fiscal.getActiveRange(SERIES)).toMatchObject({
    range_start: 1,
    range_end: 3,
    next_number: 2,
  });
  expect(await second.fiscal.consumeNext(SERIES)).toBe(2);
  // The node answering with the range the device already holds keeps the position.
  await second.fiscal.ensureRange(SERIES);
  expect(await second.fiscal.consumeNext(SERIES)).toBe(3);
  expect(node.calls.filter((c) => c === 'reserve-range')).toHaveLength(1);
});

test('an expired range is not used offline', async () => {
  const db = await deviceDb();
  const node = contractNode();
  const { fiscal } = services(db, node);
  await db.fiscal_ranges.put({
    series_id: SERIES,
    range_start: 1,
    range_end: 50,
    next_number: 1,
    expires_at: new Date(Date.now() - 1000).toISOString(),
    reserved_at: new Date(Date.now() - 86_400_000).toISOString(),
  });
  await expect(fiscal.consumeNext(SERIES)).rejects.toBeInstanceOf(FiscalRangeExhaustedError);
});
