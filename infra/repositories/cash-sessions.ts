import type { CashSessionsTable } from '../db/schema';
import type { ColumnMap } from './recordset';
import { registerTable } from './register-table';

export const CASH_SESSION_COLUMNS = {
  device_id: 'text',
  opened_at: 'timestamptz',
  opened_by: 'text',
  opening_amount: 'numeric',
  closed_at: 'timestamptz',
  closed_by: 'text',
  closing_amount: 'numeric',
  expected_amount: 'numeric',
  notes: 'text',
} as const satisfies ColumnMap<CashSessionsTable>;

export const cashSessions = registerTable('cash_sessions', CASH_SESSION_COLUMNS);
