import type { Db } from '../db';
import type { CustomersTable } from '../db/schema';
import type { Trx } from '../projections/types';
import type { ColumnMap } from './recordset';
import { registerTable } from './register-table';

export const CUSTOMER_COLUMNS = {
  name: 'text',
  document_id: 'text',
  phone: 'text',
  email: 'text',
  address: 'text',
  credit_limit: 'numeric',
  notes: 'text',
  active: 'boolean',
} as const satisfies ColumnMap<CustomersTable>;

export const customers = registerTable('customers', CUSTOMER_COLUMNS);

/** A store's customers by id, after the id `after` (keyset pagination); all of them without a limit. */
export function listCustomers(db: Db | Trx, storeId: string, page: { after?: string; limit?: number } = {}) {
  let q = db.selectFrom('customers').selectAll().where('store_id', '=', storeId);
  if (page.after !== undefined) q = q.where('id', '>', page.after);
  q = q.orderBy('id');
  return page.limit === undefined ? q.execute() : q.limit(page.limit).execute();
}
