import { sql, type RawBuilder } from 'kysely';
import type { SaleVoidsTable } from '../db/schema';
import { columnList, recordset, storeKeys, type ColumnMap, type StoreKey } from './recordset';

export const SALE_VOID_COLUMNS = {
  store_id: 'uuid',
  event_id: 'uuid',
  sale_id: 'uuid',
  voided_at: 'timestamptz',
  reason: 'text',
} as const satisfies ColumnMap<SaleVoidsTable>;

export type SaleVoidRow = { [K in keyof typeof SALE_VOID_COLUMNS]: unknown };

/** CTE body: stores the voids (each void event once). */
export function insertSaleVoidsSql(rows: SaleVoidRow[], guard: RawBuilder<unknown>) {
  const cols = columnList(SALE_VOID_COLUMNS);
  return sql`
    INSERT INTO sale_voids (${cols})
    SELECT ${cols} FROM ${recordset(SALE_VOID_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (store_id, event_id) DO NOTHING`;
}

/** The winning void of each sale (earliest voided_at, then smallest event id): the one shown. */
export function winningVoidsSql(sales: StoreKey[]) {
  return sql`
    SELECT DISTINCT ON (v.store_id, v.sale_id) v.store_id, v.sale_id, v.event_id, v.voided_at, v.reason
    FROM sale_voids v JOIN ${storeKeys(sales)} ON (v.store_id, v.sale_id) = (k.store_id, k.id)
    ORDER BY v.store_id, v.sale_id, v.voided_at, v.event_id`;
}
