import { sql } from 'kysely';
import { recomputeDebts, upsertDebtsSql, type DebtRow } from '../repositories/debts';
import {
  debtsOfPayments,
  paidPerDebtSql,
  upsertDebtPaymentsSql,
  type DebtPaymentRow,
} from '../repositories/debt-payments';
import { keyText, uniqueKeys } from '../repositories/recordset';
import { firstPerId, lockEntities, lockSql, ofType, type ProjectionEvent, type Trx } from './types';

/**
 * Debts and their payments are add-wins sets per store. remaining_amount is always total − Σ payments,
 * recomputed from the payment rows, never decremented in place: a payment that arrives before its
 * debt is stored and counted the moment the debt lands.
 */
export async function projectDebts(trx: Trx, events: ProjectionEvent[]): Promise<void> {
  const debts = firstPerId(ofType(events, 'DebtCreated'), (e) => e.payload.debt_id);
  const payments = firstPerId(
    ofType(events, 'DebtPaymentRecorded', 'DebtPaymentAdded'),
    (e) => e.payload.payment_id,
  );
  if (debts.length === 0 && payments.length === 0) return;

  // A debt and its payment may arrive in concurrent requests that cannot see each other's rows, and a
  // payment id re-sent for another debt moves its amount off the debt it was on: lock the payments,
  // then every debt whose sum can change (including those previous debts), in a fixed order.
  const paymentKeys = uniqueKeys(payments.map((e) => ({ store_id: e.store_id, id: e.payload.payment_id })));
  let previous: { store_id: string; id: string }[] = [];
  if (paymentKeys.length > 0) {
    await lockEntities(trx, 'debt_payment', paymentKeys.map(keyText));
    previous = await debtsOfPayments(trx, paymentKeys);
  }
  const touched = uniqueKeys([
    ...debts.map((e) => ({ store_id: e.store_id, id: e.payload.debt_id })),
    ...payments.map((e) => ({ store_id: e.store_id, id: e.payload.debt_id })),
    ...previous,
  ]);
  const debtRows: DebtRow[] = debts.map((e) => {
    const p = e.payload;
    return {
      store_id: e.store_id,
      id: p.debt_id,
      event_id: e.event_id,
      customer_id: p.customer_id ?? null,
      sale_id: p.sale_id ?? null,
      total_amount: p.total_amount ?? p.amount,
      notes: p.notes ?? p.note ?? null,
      due_date: p.due_date ?? null,
      created_at: e.created_at.toISOString(),
      created_by: e.actor_user_id,
    };
  });
  const paymentRows: DebtPaymentRow[] = payments.map((e) => {
    const p = e.payload;
    return {
      store_id: e.store_id,
      id: p.payment_id,
      debt_id: p.debt_id,
      event_id: e.event_id,
      amount: p.amount,
      payment_method: p.payment_method ?? p.method ?? 'cash',
      paid_at: p.paid_at ?? e.created_at.toISOString(),
      paid_by: e.actor_user_id,
      notes: p.notes ?? p.note ?? null,
    };
  });
  // Lock the debts, then write debts and payments: one statement (inserts with ON CONFLICT need no
  // snapshot of their own; the recompute below reads in a statement of its own, after the locks).
  const guard = sql`EXISTS (SELECT 1 FROM locks)`;
  await sql`
    WITH locks AS (SELECT ${lockSql('debt', touched.map(keyText))}),
    d AS (${upsertDebtsSql(debtRows, guard)})
    ${upsertDebtPaymentsSql(paymentRows, guard)}`.execute(trx);
  await recomputeDebts(trx, touched, paidPerDebtSql);
}
