import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db';
import type { DebtsTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, excludedSet, recordset, storeKeys, type ColumnMap, type StoreKey } from './recordset';

/** The columns a DebtCreated writes (paid, remaining and status are recomputed from payments). */
export const DEBT_COLUMNS = {
  store_id: 'uuid',
  id: 'uuid',
  event_id: 'uuid',
  customer_id: 'uuid',
  sale_id: 'uuid',
  total_amount: 'numeric',
  notes: 'text',
  due_date: 'date',
  created_at: 'timestamptz',
  created_by: 'text',
} as const satisfies ColumnMap<DebtsTable>;

export type DebtRow = { [K in keyof typeof DEBT_COLUMNS]: unknown };

/** CTE body: inserts debts; a debt claimed by two events keeps the smaller event id's version. */
export function upsertDebtsSql(rows: DebtRow[], guard: RawBuilder<unknown>) {
  const cols = columnList(DEBT_COLUMNS);
  const updated = Object.keys(DEBT_COLUMNS).filter((c) => c !== 'store_id' && c !== 'id');
  return sql`
    INSERT INTO debts (${cols}, paid_amount, remaining_amount, status)
    SELECT ${cols}, 0, total_amount, 'pending' FROM ${recordset(DEBT_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (store_id, id) DO UPDATE SET ${excludedSet(updated)}
    WHERE excluded.event_id < debts.event_id`;
}

/**
 * Recomputes paid, remaining and status of these debts from their payments (total − Σ payments, never
 * decremented in place), locking the debt rows in key order.
 */
export async function recomputeDebts(
  trx: Trx,
  debts: StoreKey[],
  paidSql: (locked: string) => RawBuilder<unknown>,
) {
  if (debts.length === 0) return;
  await sql`
    WITH locked AS (
      SELECT d.store_id, d.id, d.total_amount FROM debts d JOIN ${storeKeys(debts)} USING (store_id, id)
      ORDER BY d.store_id, d.id FOR UPDATE OF d
    ), paid AS (${paidSql('locked')})
    UPDATE debts d SET
      paid_amount = paid.paid,
      remaining_amount = paid.total_amount - paid.paid,
      status = CASE WHEN paid.paid >= paid.total_amount THEN 'paid'
                    WHEN paid.paid > 0 THEN 'partial' ELSE 'pending' END
    FROM paid WHERE (d.store_id, d.id) = (paid.store_id, paid.id)`.execute(trx);
}

/**
 * A store's debts by id, after the id `after` (keyset pagination); `status` keeps one status,
 * `unpaid` the debts with something left to pay. All of them without a limit.
 */
export function listDebts(
  db: Db | Trx,
  storeId: string,
  page: { after?: string; limit?: number; status?: string; unpaid?: boolean } = {},
) {
  let q = db.selectFrom('debts').selectAll().where('store_id', '=', storeId);
  if (page.after !== undefined) q = q.where('id', '>', page.after);
  if (page.status !== undefined) q = q.where('status', '=', page.status);
  if (page.unpaid) q = q.where('status', '<>', 'paid');
  q = q.orderBy('id');
  return page.limit === undefined ? q.execute() : q.limit(page.limit).execute();
}

export function findDebt(db: Db | Trx, storeId: string, id: string) {
  return db
    .selectFrom('debts')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('id', '=', id)
    .executeTakeFirst();
}
