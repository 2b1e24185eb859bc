import type { Db } from '../db';
import type { CashSessionsTable } from '../db/schema';
import type { Trx } from '../projections/types';
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

/**
 * A store's cash sessions by id, after the id `after` (keyset pagination); `open` keeps the sessions
 * not closed. All of them without a limit.
 */
export function listCashSessions(
  db: Db | Trx,
  storeId: string,
  page: { after?: string; limit?: number; open?: boolean } = {},
) {
  let q = db.selectFrom('cash_sessions').selectAll().where('store_id', '=', storeId);
  if (page.after !== undefined) q = q.where('id', '>', page.after);
  if (page.open === true) q = q.where('closed_at', 'is', null);
  if (page.open === false) q = q.where('closed_at', 'is not', null);
  q = q.orderBy('id');
  return page.limit === undefined ? q.execute() : q.limit(page.limit).execute();
}
