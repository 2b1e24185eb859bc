import { SNAPSHOT_SALES_DAYS, type SnapshotOut, type StockOut } from '../../domain/wire/store-queries';
import type { Db } from '../db';
import { listCustomers } from '../repositories/customers';
import { heldInQuotas } from '../repositories/escrow-quotas';
import { feedPosition, storeClock } from '../repositories/events';
import { listProducts } from '../repositories/products';
import { unitsSoldPerDay } from '../repositories/sale-items';
import { listStock } from '../repositories/warehouse-stock';
import { customerOut, openCashSessions, productOut, stockOut, unpaidDebts } from './store-queries';

export interface SnapshotOptions {
  /**
   * Runs inside the snapshot transaction right after the feed position is read, before the rows
   * (tests commit events there to show they are neither in the rows nor lost to the feed).
   */
  afterPosition?: () => Promise<void>;
}

/**
 * Everything a device caches, and the feed position it corresponds to, read in one REPEATABLE READ
 * transaction: its single database snapshot holds exactly the events at or below the position
 * (node_seq is handed out in commit order, infra/repositories/events.ts feedPosition) and the rows
 * they projected (an event and its projection commit together). A device that loads it and then
 * pulls from the position (`GET /sync/pull?since=`) sees every later event once: none is in both, none in neither.
 */
export function readSnapshot(
  db: Db,
  storeId: string,
  nodeId: string,
  opts: SnapshotOptions = {},
): Promise<SnapshotOut> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const position = await feedPosition(trx, storeId);
      await opts.afterPosition?.();
      const products = await listProducts(trx, storeId);
      const stock = await listStock(trx, storeId);
      // Every device's quotas, the asking device's too: a till adds its own quota back (pwa/src/stock-validator.ts).
      const held = await heldInQuotas(trx, storeId, null);
      const customers = await listCustomers(trx, storeId);
      const debts = await unpaidDebts(trx, storeId);
      const sessions = await openCashSessions(trx, storeId);
      const clock = await storeClock(trx, storeId);
      const salesStats = await unitsSoldPerDay(trx, storeId, salesWindowStart(new Date()));
      return {
        store_id: storeId,
        node_id: nodeId,
        position,
        vector_clock: clock.vector_clock,
        clock_time: clock.latest?.toISOString() ?? null,
        taken_at: new Date().toISOString(),
        products: products.map(productOut),
        stock: withReserved(stock.map(stockOut), held, storeId),
        sales_stats: salesStats,
        customers: customers.map(customerOut),
        debts,
        cash_sessions: sessions,
      };
    });
}

/**
 * Escrow is per product, stock per warehouse: what others hold goes on one row of the product, the
 * default warehouse's (its id is the store's) when there is one, else the product's first row.
 */
function withReserved(rows: StockOut[], held: Map<string, string>, storeId: string) {
  const carrier = new Map<string, StockOut>();
  for (const r of rows) {
    if (!held.has(r.product_id)) continue;
    const current = carrier.get(r.product_id);
    if (!current || (r.warehouse_id === storeId && current.warehouse_id !== storeId))
      carrier.set(r.product_id, r);
  }
  return rows.map((r) => (carrier.get(r.product_id) === r ? { ...r, reserved: held.get(r.product_id)! } : r));
}

/** UTC midnight SNAPSHOT_SALES_DAYS − 1 days before `now`: the window is whole days, today included. */
export function salesWindowStart(now: Date): Date {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(midnight - (SNAPSHOT_SALES_DAYS - 1) * 86_400_000);
}
