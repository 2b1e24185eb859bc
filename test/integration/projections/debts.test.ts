import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { debtDivergence, push } from '../../support/projections';
import type { Db } from '../../../infra/db';
import type { SyncEvent } from '../../../domain/events/schemas';

const HOUR = 3_600_000;
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('debts');
});
afterAll(async () => {
  await t?.drop();
});

function debtOf(db: Db, id: string) {
  return db
    .selectFrom('debts')
    .select(['total_amount', 'paid_amount', 'remaining_amount', 'status', 'notes', 'event_id'])
    .where('id', '=', id)
    .executeTakeFirst();
}

describe('debts and payments (add-wins; remaining = total − Σ payments)', () => {
  it('goes pending → partial → paid as payments land', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    const debtId = randomUUID();
    await push(t.db, [d.event('DebtCreated', { debt_id: debtId, amount: 100, note: 'fiado' })]);
    expect(await debtOf(t.db, debtId)).toMatchObject({
      total_amount: '100.00',
      paid_amount: '0.00',
      remaining_amount: '100.00',
      status: 'pending',
      notes: 'fiado',
    });

    await push(t.db, [
      d.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debtId, amount: 30.25 }),
    ]);
    expect(await debtOf(t.db, debtId)).toMatchObject({
      paid_amount: '30.25',
      remaining_amount: '69.75',
      status: 'partial',
    });

    await push(t.db, [
      d.event('DebtPaymentAdded', { payment_id: randomUUID(), debt_id: debtId, amount: 69.75 }),
    ]);
    expect(await debtOf(t.db, debtId)).toMatchObject({
      paid_amount: '100.00',
      remaining_amount: '0.00',
      status: 'paid',
    });
  });

  it('a payment before its debt is kept and counted when the debt lands', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    const debtId = randomUUID();
    const debt = d.event('DebtCreated', { debt_id: debtId, total_amount: 80, notes: 'n' });
    const p1 = d.event('DebtPaymentRecorded', {
      payment_id: randomUUID(),
      debt_id: debtId,
      amount: 20,
      method: 'card',
    });
    const p2 = d.event('DebtPaymentAdded', {
      payment_id: randomUUID(),
      debt_id: debtId,
      amount: 15,
      payment_method: 'cash',
      note: 'x',
    });

    await push(t.db, [p1]);
    await push(t.db, [p2]);
    expect(await debtOf(t.db, debtId)).toBeUndefined();
    const kept = await t.db
      .selectFrom('debt_payments')
      .select(['amount', 'payment_method', 'notes'])
      .where('debt_id', '=', debtId)
      .orderBy('amount')
      .execute();
    expect(kept).toEqual([
      { amount: '15.00', payment_method: 'cash', notes: 'x' },
      { amount: '20.00', payment_method: 'card', notes: null },
    ]);

    await push(t.db, [debt]);
    expect(await debtOf(t.db, debtId)).toMatchObject({
      total_amount: '80.00',
      paid_amount: '35.00',
      remaining_amount: '45.00',
      status: 'partial',
      notes: 'n',
    });
  });

  it('overpayment leaves a negative remaining amount and status paid', async () => {
    const d = new DeviceSim(randomUUID());
    const debtId = randomUUID();
    await push(t.db, [
      d.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debtId, amount: 60 }),
      d.event('DebtCreated', { debt_id: debtId, amount: 50 }),
    ]);
    expect(await debtOf(t.db, debtId)).toMatchObject({
      paid_amount: '60.00',
      remaining_amount: '-10.00',
      status: 'paid',
    });
  });

  it('a payment id re-sent under a new event for another debt resolves the same in any order, and both debts stay exact', async () => {
    const d = new DeviceSim(randomUUID());
    const [debtA, debtB, paymentId] = [randomUUID(), randomUUID(), randomUUID()];
    const debts = [
      d.event('DebtCreated', { debt_id: debtA, amount: 50 }),
      d.event('DebtCreated', { debt_id: debtB, amount: 50 }),
    ];
    const x = d.event('DebtPaymentRecorded', { payment_id: paymentId, debt_id: debtA, amount: 10 });
    const y = d.event('DebtPaymentRecorded', { payment_id: paymentId, debt_id: debtB, amount: 20 });
    const [small, large] = x.event_id < y.event_id ? [x, y] : [y, x];
    const winnerDebt = (small.payload as { debt_id: string }).debt_id;
    const loserDebt = winnerDebt === debtA ? debtB : debtA;

    await push(t.db, debts);
    await push(t.db, [large]);
    await push(t.db, [small]);

    const payment = await t.db
      .selectFrom('debt_payments')
      .select(['debt_id', 'event_id'])
      .where('id', '=', paymentId)
      .executeTakeFirstOrThrow();
    expect(payment).toEqual({ debt_id: winnerDebt, event_id: small.event_id });
    expect(await debtOf(t.db, loserDebt)).toMatchObject({
      paid_amount: '0.00',
      remaining_amount: '50.00',
      status: 'pending',
    });
    expect(await debtOf(t.db, winnerDebt)).toMatchObject({ status: 'partial' });
    expect(await debtDivergence(t.db)).toEqual([]);
  });

  it('a debt claimed by two events keeps the smaller event id, and remaining follows its total', async () => {
    const d = new DeviceSim(randomUUID());
    const debtId = randomUUID();
    const x = d.event('DebtCreated', { debt_id: debtId, amount: 40 });
    const y = d.event('DebtCreated', { debt_id: debtId, amount: 90 });
    const pay = d.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debtId, amount: 10 });
    const [small, large] = x.event_id < y.event_id ? [x, y] : [y, x];
    await push(t.db, [large, pay]);
    await push(t.db, [small]);
    const total = (small.payload as { amount: number }).amount;
    expect(await debtOf(t.db, debtId)).toMatchObject({
      event_id: small.event_id,
      total_amount: total.toFixed(2),
      remaining_amount: (total - 10).toFixed(2),
    });
  });

  it('concurrent pushes of a debt and its payment still count the payment', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    const debtId = randomUUID();
    const entryId = randomUUID();
    const debt = d.event('DebtCreated', { debt_id: debtId, amount: 100 });
    const ledger = d.event('CashLedgerEntryCreated', { entry_id: entryId, kind: 'in', amount: 1 });
    // Another hour bucket: the two pushes share no digest row.
    const payment = d.event(
      'DebtPaymentRecorded',
      { payment_id: randomUUID(), debt_id: debtId, amount: 40 },
      { at: Date.parse(debt.created_at) + 2 * HOUR },
    );

    await sql`
      CREATE OR REPLACE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = ${sql.lit(entryId)}::uuid THEN PERFORM pg_sleep(0.5); END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER test_pause AFTER INSERT ON cash_ledger_entries FOR EACH ROW EXECUTE FUNCTION test_pause()`.execute(
      t.db,
    );
    try {
      const first = push(t.db, [debt, ledger] as SyncEvent[]);
      await waitForSleeper(t.db);
      await Promise.all([first, push(t.db, [payment])]);
    } finally {
      await sql`DROP TRIGGER test_pause ON cash_ledger_entries`.execute(t.db);
    }
    expect(await debtOf(t.db, debtId)).toMatchObject({
      paid_amount: '40.00',
      remaining_amount: '60.00',
      status: 'partial',
    });
  });

  it('remaining_amount = total − Σ payments for every debt in the database', async () => {
    expect(await t.db.selectFrom('debts').select('id').execute()).not.toHaveLength(0);
    expect(await debtDivergence(t.db)).toEqual([]);
  });
});

async function waitForSleeper(db: Db): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`.execute(
      db,
    );
    if (Number(r.rows[0]!.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the first push never reached the pause');
}
