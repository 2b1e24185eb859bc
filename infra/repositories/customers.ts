import type { CustomersTable } from '../db/schema';
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
