import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db';
import type { DebtPaymentsTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, excludedSet, recordset, storeKeys, type ColumnMap, type StoreKey } from './recordset';

export const DEBT_PAYMENT_COLUMNS = {
  store_id: 'uuid',
  id: 'uuid',
  debt_id: 'uuid',
  event_id: 'uuid',
  amount: 'numeric',
  payment_method: 'text',
  paid_at: 'timestamptz',
  paid_by: 'text',
  notes: 'text',
} as const satisfies ColumnMap<DebtPaymentsTable>;

export type DebtPaymentRow = { [K in keyof typeof DEBT_PAYMENT_COLUMNS]: unknown };

/** The debts these payments are on now (a re-sent payment id may move its amount off one of them). */
export async function debtsOfPayments(trx: Trx, payments: StoreKey[]): Promise<StoreKey[]> {
  if (payments.length === 0) return [];
  const r = await sql<StoreKey>`
    SELECT DISTINCT p.store_id, p.debt_id AS id FROM debt_payments p JOIN ${storeKeys(payments)} USING (store_id, id)`.execute(
    trx,
  );
  return r.rows;
}

/** CTE body (or statement): inserts payments; a payment claimed by two events keeps the smaller event id. */
export function upsertDebtPaymentsSql(rows: DebtPaymentRow[], guard: RawBuilder<unknown>) {
  const cols = columnList(DEBT_PAYMENT_COLUMNS);
  const updated = Object.keys(DEBT_PAYMENT_COLUMNS).filter((c) => c !== 'store_id' && c !== 'id');
  return sql`
    INSERT INTO debt_payments (${cols})
    SELECT ${cols} FROM ${recordset(DEBT_PAYMENT_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (store_id, id) DO UPDATE SET ${excludedSet(updated)}
    WHERE excluded.event_id < debt_payments.event_id`;
}

/** Σ payments per debt of `debts` (a relation of store_id, id, total_amount). */
export function paidPerDebtSql(debts: string) {
  return sql`
    SELECT l.store_id, l.id, l.total_amount, coalesce(sum(dp.amount), 0) AS paid
    FROM ${sql.table(debts)} l
    LEFT JOIN debt_payments dp ON (dp.store_id, dp.debt_id) = (l.store_id, l.id)
    GROUP BY l.store_id, l.id, l.total_amount`;
}

/** The payments on these debts of the store, oldest first. */
export function paymentsOfDebts(db: Db | Trx, storeId: string, debtIds: string[]) {
  if (debtIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('debt_payments')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('debt_id', '=', sql<string>`ANY(${debtIds}::uuid[])`)
    .orderBy('paid_at')
    .orderBy('id')
    .execute();
}
