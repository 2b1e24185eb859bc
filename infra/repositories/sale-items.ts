import { sql } from 'kysely';
import type { Db } from '../db';
import type { SaleItemsTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, recordset, storeKeys, type ColumnMap, type StoreKey } from './recordset';

export const SALE_ITEM_COLUMNS = {
  store_id: 'uuid',
  sale_id: 'uuid',
  line_no: 'int',
  product_id: 'uuid',
  qty: 'numeric',
  unit_price: 'numeric',
  line_total: 'numeric',
} as const satisfies ColumnMap<SaleItemsTable>;

export type SaleItemRow = { [K in keyof typeof SALE_ITEM_COLUMNS]: unknown };

/** CTE body: the lines of the sales in `inserted` (a relation of store_id, id) only. */
export function insertSaleItemsSql(rows: SaleItemRow[], inserted: string) {
  const cols = columnList(SALE_ITEM_COLUMNS);
  return sql`
    INSERT INTO sale_items (${cols})
    SELECT ${columnList(SALE_ITEM_COLUMNS, 'y.')} FROM ${recordset(SALE_ITEM_COLUMNS, rows, 'y')}
    WHERE (y.store_id, y.sale_id) IN (SELECT store_id, id FROM ${sql.table(inserted)})`;
}

/** The lines of the sales in `sales` (a relation with store_id, id), to join from another statement. */
export function linesOfSql(sales: string) {
  return sql`
    SELECT v.*, si.line_no, si.product_id, si.qty
    FROM ${sql.table(sales)} v JOIN sale_items si ON (si.store_id, si.sale_id) = (v.store_id, v.id)`;
}

export async function deleteSaleItems(trx: Trx, sales: StoreKey[]): Promise<void> {
  if (sales.length === 0) return;
  await sql`
    DELETE FROM sale_items si USING ${storeKeys(sales)}
    WHERE (si.store_id, si.sale_id) = (k.store_id, k.id)`.execute(trx);
}

/** The lines of these sales of the store, by sale and line. */
export function linesOfSales(db: Db | Trx, storeId: string, saleIds: string[]) {
  if (saleIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('sale_items')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('sale_id', '=', sql<string>`ANY(${saleIds}::uuid[])`)
    .orderBy('sale_id')
    .orderBy('line_no')
    .execute();
}

/**
 * Units sold per product and UTC day since `from`, voided sales left out: the store's recent sales
 * history, which a new till needs for its escrow plan (pwa/src/escrow.ts planEscrow).
 */
export async function unitsSoldPerDay(
  db: Db | Trx,
  storeId: string,
  from: Date,
): Promise<{ product_id: string; day: string; qty: string }[]> {
  const r = await sql<{ product_id: string; day: string; qty: string }>`
    SELECT si.product_id, to_char(s.sold_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(si.qty)::text AS qty
    FROM sale_items si JOIN sales s ON (s.store_id, s.id) = (si.store_id, si.sale_id)
    WHERE si.store_id = ${storeId} AND s.sold_at >= ${from} AND s.voided_at IS NULL
    GROUP BY 1, 2
    ORDER BY 1, 2`.execute(db);
  return r.rows;
}
