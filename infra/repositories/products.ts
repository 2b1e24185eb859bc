import type { Db } from '../db';
import type { ProductsTable } from '../db/schema';
import type { Trx } from '../projections/types';
import type { ColumnMap } from './recordset';
import { registerTable } from './register-table';

export const PRODUCT_COLUMNS = {
  name: 'text',
  sku: 'text',
  barcode: 'text',
  price: 'numeric',
  cost: 'numeric',
  category: 'text',
  unit: 'text',
  track_inventory: 'boolean',
  active: 'boolean',
} as const satisfies ColumnMap<ProductsTable>;

export const products = registerTable('products', PRODUCT_COLUMNS);

/** A store's products by id, after the id `after` (keyset pagination); all of them without a limit. */
export function listProducts(db: Db | Trx, storeId: string, page: { after?: string; limit?: number } = {}) {
  let q = db.selectFrom('products').selectAll().where('store_id', '=', storeId);
  if (page.after !== undefined) q = q.where('id', '>', page.after);
  q = q.orderBy('id');
  return page.limit === undefined ? q.execute() : q.limit(page.limit).execute();
}

export function findProduct(db: Db | Trx, storeId: string, id: string) {
  return db
    .selectFrom('products')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('id', '=', id)
    .executeTakeFirst();
}
