import { sql } from 'kysely';
import type { EscrowReleasesTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// The unconsumed rest of each quota, given back by the quota's node (EscrowReleased): one per grant.

export const ESCROW_RELEASE_COLUMNS = {
  store_id: 'uuid',
  grant_id: 'uuid',
  event_id: 'uuid',
  product_id: 'uuid',
  qty_released: 'numeric',
  released_at: 'timestamptz',
} as const satisfies ColumnMap<EscrowReleasesTable>;

export type EscrowReleaseRow = { [K in keyof typeof ESCROW_RELEASE_COLUMNS]: unknown };

/** CTE body: stores the releases; a grant released twice keeps the smaller event id's. */
export function insertReleasesSql(rows: EscrowReleaseRow[]) {
  const cols = columnList(ESCROW_RELEASE_COLUMNS);
  return sql`
    INSERT INTO escrow_releases (${cols})
    SELECT ${cols} FROM ${recordset(ESCROW_RELEASE_COLUMNS, rows)}
    ON CONFLICT (store_id, grant_id) DO UPDATE
      SET event_id = excluded.event_id, product_id = excluded.product_id,
        qty_released = excluded.qty_released, released_at = excluded.released_at
    WHERE excluded.event_id < escrow_releases.event_id`;
}
