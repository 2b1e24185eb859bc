import { sql, type RawBuilder } from 'kysely';

// Σ qty_delta and the number of movements per (store, warehouse, product): written only by the
// triggers on stock_movements (migration 20261203_0011), so this module only reads. Its reads are
// statement fragments, because the consistency checks compare the totals with stock and with the
// movements in one statement each (infra/repositories/consistency.ts).

/** A relation (warehouse_id, product_id, qty, movements): the store's totals, one row per pair. */
export function storeTotalsSql(storeId: string): RawBuilder<{
  warehouse_id: string;
  product_id: string;
  qty: string;
  movements: string;
}> {
  return sql`SELECT warehouse_id, product_id, qty, movements FROM stock_movement_totals WHERE store_id = ${storeId}`;
}
