import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import type { Log } from '../log';
import { advanceFeedCursor, lockFeedCursor, readMappedSales } from '../repositories/erp-order-feed';
import { anyStoreVendor } from '../repositories/erp-store-vendors';
import { insertSaleOrders } from '../repositories/erp-orders';
import { createJobs, type ErpSyncJob } from '../repositories/erp-sync-jobs';
import { saleIdempotencyKey, saleOrderOf } from '../../domain/erp/sale-order';

export const SALES_FEED = 'sales';
/** Sales read per producer pass. */
export const SALES_PAGE = 500;

/**
 * One pass of the order producer: the SaleCreated events of mapped stores past the cursor become
 * ERP orders and their sync jobs, and the cursor moves, in one transaction (the event log is the
 * outbox: a crash before the commit reads the same sales again, and (store, sale) is unique, so a
 * sale never makes two orders). The jobs' workflows are started by the caller after the commit, or
 * by the order sweep. `read` is the number of sales read (a full page, `limit`, means more may be
 * waiting). Undefined: another pass holds the cursor (try again: it may not see the caller's sales).
 */
export async function produceSaleOrders(
  db: Db,
  log: Log,
  limit = SALES_PAGE,
): Promise<{ jobs: ErpSyncJob[]; skipped: number; read: number } | undefined> {
  return db.transaction().execute(async (trx) => {
    const cursor = await lockFeedCursor(trx, SALES_FEED);
    if (cursor === undefined) return undefined;
    const { sales, next } = await readMappedSales(trx, cursor, limit);
    let skipped = 0;
    const rows = [];
    const seen = new Set<string>();
    for (const s of sales) {
      const order = saleOrderOf(s);
      const key = order ? `${s.store_id}:${order.saleId}` : '';
      if (!order || seen.has(key)) {
        if (!order) log.warn({ eventId: s.event_id, storeId: s.store_id }, 'sale not usable as an erp order');
        skipped += 1;
        continue;
      }
      seen.add(key);
      rows.push({
        vendor_id: s.vendor_id,
        store_id: s.store_id,
        sale_id: order.saleId,
        payload: order.payload,
      });
    }
    const orders = await insertSaleOrders(trx, rows);
    const jobs = await createJobs(
      trx,
      orders.map((o) => ({
        vendor_id: o.vendor_id,
        order_id: o.id,
        job_type: 'create-order',
        payload: o.payload,
        correlation_id: randomUUID(),
        idempotency_key: saleIdempotencyKey(o.store_id!, o.sale_id!),
      })),
    );
    if (next !== cursor) await advanceFeedCursor(trx, SALES_FEED, next);
    return { jobs, skipped: skipped + rows.length - orders.length, read: sales.length };
  });
}

/**
 * Whether any store is mapped to a vendor, remembered for `ttlMs`: on a node without mappings a push
 * then costs no producer transaction (the sweep still moves the cursor). `invalidate` is called by
 * this process's mapping routes; a mapping made by another process is seen within `ttlMs` (its sales
 * wait no longer than that, or until the sweep, since the cursor does not move while passes skip).
 */
export function createMappingCheck(db: Db, ttlMs: number) {
  let known: { any: boolean; at: number } | undefined;
  // A check that raced an invalidation answers its caller but is not remembered.
  let generation = 0;
  return {
    async any(): Promise<boolean> {
      if (known && Date.now() - known.at < ttlMs) return known.any;
      const seen = generation;
      const any = await anyStoreVendor(db);
      if (seen === generation) known = { any, at: Date.now() };
      return any;
    },
    invalidate(): void {
      generation += 1;
      known = undefined;
    },
  };
}
