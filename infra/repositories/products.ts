import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, ProductsTable } from '../db/schema';
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
