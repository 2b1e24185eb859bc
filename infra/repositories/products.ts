import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, ProductsTable } from '../db/schema';
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

type Executor = Db | Transaction<Database>;

/** Name and track_inventory of a store's products (those it knows). */
export async function productInfo(
  db: Executor,
  storeId: string,
  productIds: string[],
): Promise<Map<string, { name: string | null; track_inventory: boolean | null }>> {
  if (productIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('products')
    .select(['id', 'name', 'track_inventory'])
    .where('store_id', '=', storeId)
    .where('id', 'in', productIds)
    .execute();
  return new Map(rows.map((r) => [r.id, { name: r.name, track_inventory: r.track_inventory }]));
}

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
