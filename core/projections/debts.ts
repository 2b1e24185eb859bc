import { sql } from 'kysely';
import { firstPerId, lockEntities, lockSql, ofType, type ProjectionEvent, type Trx } from './types';

/**
 * Debts and their payments are add-wins sets. remaining_amount is always total − Σ payments,
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
  const paymentIds = payments.map((e) => e.payload.payment_id).sort();
  let previousDebtIds: string[] = [];
  if (paymentIds.length > 0) {
    await lockEntities(trx, 'debt_payment', paymentIds);
    const previous = await sql<{ debt_id: string }>`
      SELECT DISTINCT debt_id FROM debt_payments WHERE id = ANY(${paymentIds}::uuid[])`.execute(trx);
    previousDebtIds = previous.rows.map((r) => r.debt_id);
  }
  const touched = [
    ...new Set([
      ...debts.map((e) => e.payload.debt_id),
      ...payments.map((e) => e.payload.debt_id),
      ...previousDebtIds,
    ]),
  ].sort();
  // Lock the debts, then write debts and payments: one statement (inserts with ON CONFLICT need no
  // snapshot of their own; the recompute below reads in a statement of its own, after the locks).
  const debtRows = debts.map((e) => {
    const p = e.payload;
    return {
      id: p.debt_id,
      store_id: e.store_id,
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
  const paymentRows = payments.map((e) => {
    const p = e.payload;
    return {
      id: p.payment_id,
      debt_id: p.debt_id,
      store_id: e.store_id,
      event_id: e.event_id,
      amount: p.amount,
      payment_method: p.payment_method ?? p.method ?? 'cash',
      paid_at: p.paid_at ?? e.created_at.toISOString(),
      paid_by: e.actor_user_id,
      notes: p.notes ?? p.note ?? null,
    };
  });
  await sql`
    WITH locks AS (SELECT ${lockSql('debt', touched)}),
    d AS (
      INSERT INTO debts (id, store_id, event_id, customer_id, sale_id, total_amount, paid_amount,
        remaining_amount, status, notes, due_date, created_at, created_by)
      SELECT id, store_id, event_id, customer_id, sale_id, total_amount, 0, total_amount, 'pending',
        notes, due_date, created_at, created_by
      FROM jsonb_to_recordset(${JSON.stringify(debtRows)}::jsonb) AS x(
        id uuid, store_id uuid, event_id uuid, customer_id uuid, sale_id uuid, total_amount numeric,
        notes text, due_date date, created_at timestamptz, created_by text)
      WHERE EXISTS (SELECT 1 FROM locks)
      ON CONFLICT (id) DO UPDATE SET
        store_id = excluded.store_id, event_id = excluded.event_id, customer_id = excluded.customer_id,
        sale_id = excluded.sale_id, total_amount = excluded.total_amount, notes = excluded.notes,
        due_date = excluded.due_date, created_at = excluded.created_at, created_by = excluded.created_by
      WHERE excluded.event_id < debts.event_id
    )
    INSERT INTO debt_payments (id, debt_id, store_id, event_id, amount, payment_method, paid_at, paid_by, notes)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(paymentRows)}::jsonb) AS x(
      id uuid, debt_id uuid, store_id uuid, event_id uuid, amount numeric, payment_method text,
      paid_at timestamptz, paid_by text, notes text)
    WHERE EXISTS (SELECT 1 FROM locks)
    ON CONFLICT (id) DO UPDATE SET
      debt_id = excluded.debt_id, store_id = excluded.store_id, event_id = excluded.event_id,
      amount = excluded.amount, payment_method = excluded.payment_method, paid_at = excluded.paid_at,
      paid_by = excluded.paid_by, notes = excluded.notes
    WHERE excluded.event_id < debt_payments.event_id`.execute(trx);

  await sql`
    WITH locked AS (
      SELECT id, total_amount FROM debts WHERE id = ANY(${touched}::uuid[]) ORDER BY id FOR UPDATE
    ), paid AS (
      SELECT l.id, l.total_amount, coalesce(sum(dp.amount), 0) AS paid
      FROM locked l LEFT JOIN debt_payments dp ON dp.debt_id = l.id
      GROUP BY l.id, l.total_amount
    )
    UPDATE debts d SET
      paid_amount = paid.paid,
      remaining_amount = paid.total_amount - paid.paid,
      status = CASE WHEN paid.paid >= paid.total_amount THEN 'paid'
                    WHEN paid.paid > 0 THEN 'partial' ELSE 'pending' END
    FROM paid WHERE d.id = paid.id`.execute(trx);
}
