import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { StoredVersion } from './erp-items';

// A vendor's warehouses as its ERP sent them (erp_warehouses), keyed by the ERP's warehouse id.

type Executor = Db | Transaction<Database>;

export interface WarehouseRow {
  vendor_id: string;
  erp_warehouse_id: string;
  name: string;
  data: Record<string, unknown>;
  content_hash: string;
  erp_updated_at: Date;
}

export async function warehouseVersions(
  db: Executor,
  vendorId: string,
  ids: readonly string[],
): Promise<Map<string, StoredVersion>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('erp_warehouses')
    .select(['erp_warehouse_id', 'content_hash', 'erp_updated_at'])
    .where('vendor_id', '=', vendorId)
    .where('erp_warehouse_id', '=', sql<string>`ANY(${sql.val(ids)}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.erp_warehouse_id, r]));
}

/** One multi-row upsert with the timestamp guard of upsertItems; returns the ids written. */
export async function upsertWarehouses(db: Executor, rows: readonly WarehouseRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const written = await db
    .insertInto('erp_warehouses')
    .values(rows.map((r) => ({ ...r, data: JSON.stringify(r.data) })))
    .onConflict((oc) =>
      oc
        .columns(['vendor_id', 'erp_warehouse_id'])
        .doUpdateSet({
          name: sql`excluded.name`,
          data: sql`excluded.data`,
          content_hash: sql`excluded.content_hash`,
          erp_updated_at: sql`excluded.erp_updated_at`,
          last_synced_at: sql`now()`,
        })
        .where(sql<boolean>`erp_warehouses.erp_updated_at <= excluded.erp_updated_at`),
    )
    .returning('erp_warehouse_id')
    .execute();
  return new Set(written.map((w) => w.erp_warehouse_id));
}

export function getWarehouse(db: Executor, vendorId: string, id: string) {
  return db
    .selectFrom('erp_warehouses')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .where('erp_warehouse_id', '=', id)
    .executeTakeFirst();
}
