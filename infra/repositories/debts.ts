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

/**
 * The state of each debt of the store as two nodes compare it (docs/health.md, "Debts between
 * nodes"): total, remaining amount, and its payments (id and amount of each) folded into one md5.
 * `buckets` (two hex digits, the start of the debt id) narrows it to those buckets.
 */
function debtStatesSql(storeId: string, buckets?: string[]) {
  return sql`
    SELECT d.id::text AS debt_id, d.customer_id::text AS customer_id,
      d.total_amount::text AS total_amount, d.remaining_amount::text AS remaining_amount,
      count(p.id)::int AS payments,
      md5(concat_ws('|', d.id, d.customer_id, d.total_amount, d.remaining_amount,
        string_agg(p.id::text || ':' || p.amount::text, ',' ORDER BY p.id))) AS digest
    FROM debts d LEFT JOIN debt_payments p ON p.store_id = d.store_id AND p.debt_id = d.id
    WHERE d.store_id = ${storeId}
      ${buckets === undefined ? sql`` : sql`AND left(d.id::text, 2) = ANY(${buckets})`}
    GROUP BY d.store_id, d.id`;
}

export interface DebtStateRow {
  debt_id: string;
  customer_id: string | null;
  total_amount: string;
  remaining_amount: string;
  payments: number;
  digest: string;
}

/** Count and digest of every debt state of the store (one row per store, whatever its size). */
export async function debtRootDigest(
  db: Db | Trx,
  storeId: string,
): Promise<{ count: number; digest: string }> {
  const r = await sql<{ n: string; digest: string }>`
    SELECT count(*) AS n, md5(coalesce(string_agg(s.digest, '' ORDER BY s.debt_id), '')) AS digest
    FROM (${debtStatesSql(storeId)}) s`.execute(db);
  return { count: Number(r.rows[0]!.n), digest: r.rows[0]!.digest };
}

/** Per bucket (first two hex digits of the debt id): debts and the digest of their states. */
export async function debtBucketDigests(
  db: Db | Trx,
  storeId: string,
): Promise<{ key: string; count: number; digest: string }[]> {
  const r = await sql<{ key: string; n: string; digest: string }>`
    SELECT left(s.debt_id, 2) AS key, count(*) AS n, md5(string_agg(s.digest, '' ORDER BY s.debt_id)) AS digest
    FROM (${debtStatesSql(storeId)}) s GROUP BY 1 ORDER BY 1`.execute(db);
  return r.rows.map((x) => ({ key: x.key, count: Number(x.n), digest: x.digest }));
}

/** The debt states of some buckets, by id. */
export async function debtStates(db: Db | Trx, storeId: string, buckets: string[]): Promise<DebtStateRow[]> {
  const r = await sql<DebtStateRow>`
    SELECT * FROM (${debtStatesSql(storeId, buckets)}) s ORDER BY s.debt_id`.execute(db);
  return r.rows;
}
