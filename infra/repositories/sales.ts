import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db';
import type { SalesTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, recordset, storeKeys, type ColumnMap, type StoreKey } from './recordset';

/** The columns a SaleCreated writes (the void columns are set from sale_voids). */
export const SALE_COLUMNS = {
  store_id: 'uuid',
  id: 'uuid',
  device_id: 'text',
  event_id: 'uuid',
  warehouse_id: 'uuid',
  customer_id: 'uuid',
  session_id: 'uuid',
  total: 'numeric',
  payment_method: 'text',
  invoice_series_id: 'uuid',
  fiscal_number: 'bigint',
  sold_at: 'timestamptz',
  sold_by: 'text',
} as const satisfies ColumnMap<SalesTable>;

export type SaleRow = { [K in keyof typeof SALE_COLUMNS]: unknown };

/** CTE body: inserts new sales (an existing (store, id) is left alone) and returns the keys inserted. */
export function insertSalesSql(rows: SaleRow[], guard: RawBuilder<unknown>) {
  const cols = columnList(SALE_COLUMNS);
  return sql`
    INSERT INTO sales (${cols})
    SELECT ${cols} FROM ${recordset(SALE_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (store_id, id) DO NOTHING
    RETURNING store_id, id`;
}

/** Which event holds each of these sales now. */
export async function saleHolders(trx: Trx, keys: StoreKey[]): Promise<Map<string, string>> {
  const r = await sql<{ store_id: string; id: string; event_id: string }>`
    SELECT s.store_id, s.id, s.event_id FROM sales s JOIN ${storeKeys(keys)} USING (store_id, id)`.execute(
    trx,
  );
  return new Map(r.rows.map((x) => [`${x.store_id}:${x.id}`, x.event_id]));
}

export async function deleteSales(trx: Trx, keys: StoreKey[]): Promise<void> {
  if (keys.length === 0) return;
  await sql`DELETE FROM sales s USING ${storeKeys(keys)} WHERE (s.store_id, s.id) = (k.store_id, k.id)`.execute(
    trx,
  );
}

/**
 * CTE body: sets each sale's void from the winning void of `winners` (a relation of store_id, sale_id,
 * event_id, voided_at, reason) where it changed; returns the sales whose void changed.
 */
export function markVoidedSql(winners: string) {
  return sql`
    UPDATE sales s SET voided_at = w.voided_at, void_event_id = w.event_id, void_reason = w.reason
    FROM ${sql.table(winners)} w
    WHERE (s.store_id, s.id) = (w.store_id, w.sale_id) AND s.void_event_id IS DISTINCT FROM w.event_id
    RETURNING s.store_id, s.id, s.event_id, s.warehouse_id, s.voided_at`;
}

/**
 * A store's sales sold in [from, to), by (sold_at, id), after the sale `after` (keyset pagination:
 * the page goes on from that sale's position, so the cursor is just its id).
 */
export function listSalesBetween(
  db: Db | Trx,
  storeId: string,
  range: { from: Date; to: Date; after?: string; limit: number },
) {
  let q = db
    .selectFrom('sales')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('sold_at', '>=', range.from)
    .where('sold_at', '<', range.to);
  if (range.after !== undefined) {
    const after = range.after;
    q = q.where(
      sql<boolean>`(sold_at, id) > (SELECT a.sold_at, a.id FROM sales a WHERE a.store_id = ${storeId} AND a.id = ${after})`,
    );
  }
  return q.orderBy('sold_at').orderBy('id').limit(range.limit).execute();
}

/** The store's sales with these ids. */
export function findSales(db: Db | Trx, storeId: string, ids: string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('sales')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('id', '=', sql<string>`ANY(${ids}::uuid[])`)
    .execute();
}
