import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { KeyRange } from '../../domain/erp/bisection';
import { checksumAggregate, keyInRange, type RangeSummary } from '../erp/key-range';
import type { StoredVersion } from './erp-items';

// Physical stock per vendor, warehouse and item as the ERP reports it (erp_stock). The ERP is the
// source of truth for these quantities: reconciliation overwrites what differs.

type Executor = Db | Transaction<Database>;

export interface StockRow {
  vendor_id: string;
  warehouse_id: string;
  item_id: string;
  stock_key: string;
  quantity: number;
  data: Record<string, unknown>;
  content_hash: string;
  erp_updated_at: Date;
}

export async function stockVersions(
  db: Executor,
  vendorId: string,
  keys: readonly string[],
): Promise<Map<string, StoredVersion>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .selectFrom('erp_stock')
    .select(['stock_key', 'content_hash', 'erp_updated_at'])
    .where('vendor_id', '=', vendorId)
    .where('stock_key', '=', sql<string>`ANY(${sql.val(keys)}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.stock_key, r]));
}

/** One multi-row upsert (see upsertItems for `force` and the timestamp guard); returns the keys written. */
export async function upsertStock(
  db: Executor,
  rows: readonly StockRow[],
  force = false,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const written = await db
    .insertInto('erp_stock')
    .values(rows.map((r) => ({ ...r, data: JSON.stringify(r.data) })))
    .onConflict((oc) => {
      const update = oc.columns(['vendor_id', 'warehouse_id', 'item_id']).doUpdateSet({
        quantity: sql`excluded.quantity`,
        data: sql`excluded.data`,
        content_hash: sql`excluded.content_hash`,
        erp_updated_at: sql`excluded.erp_updated_at`,
        last_synced_at: sql`now()`,
      });
      return force ? update : update.where(sql<boolean>`erp_stock.erp_updated_at <= excluded.erp_updated_at`);
    })
    .returning('stock_key')
    .execute();
  return new Set(written.map((w) => w.stock_key));
}

export async function stockRangeSummary(db: Executor, vendorId: string, r: KeyRange): Promise<RangeSummary> {
  const key = sql.ref('stock_key');
  const agg = await db
    .selectFrom('erp_stock')
    .select([sql<number>`count(*)::int`.as('count'), checksumAggregate(key).as('hash')])
    .where('vendor_id', '=', vendorId)
    .where(keyInRange(key, r))
    .executeTakeFirstOrThrow();
  let splitKey: string | null = null;
  if (agg.count >= 2) {
    const mid = await db
      .selectFrom('erp_stock')
      .select('stock_key')
      .where('vendor_id', '=', vendorId)
      .where(keyInRange(key, r))
      .orderBy(sql`stock_key COLLATE "C"`)
      .offset(Math.floor(agg.count / 2))
      .limit(1)
      .executeTakeFirst();
    splitKey = mid?.stock_key ?? null;
  }
  return { hash: agg.hash, count: agg.count, splitKey };
}

export function stockInRange(db: Executor, vendorId: string, r: KeyRange) {
  return db
    .selectFrom('erp_stock')
    .select(['stock_key', 'content_hash', 'data'])
    .where('vendor_id', '=', vendorId)
    .where(keyInRange(sql.ref('stock_key'), r))
    .orderBy(sql`stock_key COLLATE "C"`)
    .execute();
}

/** Removes stock rows the ERP no longer has (reconciliation: the ERP wins). */
export async function deleteStockKeys(
  db: Executor,
  vendorId: string,
  keys: readonly string[],
): Promise<number> {
  if (keys.length === 0) return 0;
  const r = await db
    .deleteFrom('erp_stock')
    .where('vendor_id', '=', vendorId)
    .where('stock_key', '=', sql<string>`ANY(${sql.val(keys)}::text[])`)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

export function getStock(db: Executor, vendorId: string, warehouseId: string, itemId: string) {
  return db
    .selectFrom('erp_stock')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .where('warehouse_id', '=', warehouseId)
    .where('item_id', '=', itemId)
    .executeTakeFirst();
}
