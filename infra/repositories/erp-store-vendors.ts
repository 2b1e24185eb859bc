import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpStoreVendor } from '../db/erp-schema';

// Which ERP vendor a POS store's sales are ordered from (erp_store_vendors), set by an admin. The
// ERP context reads the POS log through it; the POS side knows nothing of it.

type Executor = Db | Transaction<Database>;
export type { ErpStoreVendor };

/** Maps a store to a vendor (or moves it to another); sales received from then on become orders. */
export function upsertStoreVendor(db: Executor, storeId: string, vendorId: string): Promise<ErpStoreVendor> {
  return db
    .insertInto('erp_store_vendors')
    .values({ store_id: storeId, vendor_id: vendorId })
    .onConflict((oc) => oc.column('store_id').doUpdateSet({ vendor_id: vendorId, updated_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function getStoreVendor(db: Executor, storeId: string): Promise<ErpStoreVendor | undefined> {
  return db.selectFrom('erp_store_vendors').selectAll().where('store_id', '=', storeId).executeTakeFirst();
}

/** Whether any store is mapped to a vendor (the order producer skips its pass on a node with none). */
export async function anyStoreVendor(db: Executor): Promise<boolean> {
  const row = await db.selectFrom('erp_store_vendors').select('store_id').limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function listStoreVendors(
  db: Executor,
  f: { vendorId?: string },
  page: { limit: number; offset: number },
): Promise<{ rows: ErpStoreVendor[]; total: number }> {
  let q = db.selectFrom('erp_store_vendors');
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('store_id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Removes a store's mapping; the row as it was, or undefined when the store was not mapped. */
export async function deleteStoreVendor(db: Executor, storeId: string): Promise<ErpStoreVendor | undefined> {
  return db.deleteFrom('erp_store_vendors').where('store_id', '=', storeId).returningAll().executeTakeFirst();
}
