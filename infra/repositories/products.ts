import type { ProductsTable } from '../db/schema';
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
