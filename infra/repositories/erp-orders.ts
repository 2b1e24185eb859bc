import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';

// Orders handed to a vendor's ERP (erp_orders); `erp_reference` is what the ERP calls the order
// once it has created it.

type Executor = Db | Transaction<Database>;

export function createOrder(db: Executor, vendorId: string, payload: Record<string, unknown>) {
  return db
    .insertInto('erp_orders')
    .values({ vendor_id: vendorId, payload: JSON.stringify(payload) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function getOrder(db: Executor, id: string) {
  return db.selectFrom('erp_orders').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function setOrderErpReference(db: Executor, id: string, erpReference: string): Promise<void> {
  await db
    .updateTable('erp_orders')
    .set({ erp_reference: erpReference, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/**
 * Orders made from POS sales, one per (store, sale): a sale read twice (a second pass, the same sale
 * under another event id) is skipped. Returns the orders created now.
 */
export async function insertSaleOrders(
  db: Executor,
  rows: { vendor_id: string; store_id: string; sale_id: string; payload: Record<string, unknown> }[],
) {
  if (rows.length === 0) return [];
  return db
    .insertInto('erp_orders')
    .values(rows.map((r) => ({ ...r, payload: JSON.stringify(r.payload) })))
    .onConflict((oc) => oc.columns(['store_id', 'sale_id']).where('sale_id', 'is not', null).doNothing())
    .returningAll()
    .execute();
}
