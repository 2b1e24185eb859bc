import { sql } from 'kysely';
import type { EscrowConsumptionsTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// What each sale line took from a quota: one row per (store, grant, sale event, line), from the
// EscrowConsumed events the quota's node made when the sale reached it.

export const ESCROW_CONSUMPTION_COLUMNS = {
  store_id: 'uuid',
  grant_id: 'uuid',
  sale_event_id: 'uuid',
  line_no: 'int',
  event_id: 'uuid',
  product_id: 'uuid',
  qty: 'numeric',
} as const satisfies ColumnMap<EscrowConsumptionsTable>;

export type EscrowConsumptionRow = { [K in keyof typeof ESCROW_CONSUMPTION_COLUMNS]: unknown };

/** CTE body: stores the consumptions; a line claimed twice keeps the smaller event id's. */
export function insertConsumptionsSql(rows: EscrowConsumptionRow[]) {
  const cols = columnList(ESCROW_CONSUMPTION_COLUMNS);
  return sql`
    INSERT INTO escrow_consumptions (${cols})
    SELECT ${cols} FROM ${recordset(ESCROW_CONSUMPTION_COLUMNS, rows)}
    ON CONFLICT (store_id, grant_id, sale_event_id, line_no) DO UPDATE
      SET event_id = excluded.event_id, product_id = excluded.product_id, qty = excluded.qty
    WHERE excluded.event_id < escrow_consumptions.event_id`;
}
