import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpDeadLetter } from '../db/erp-schema';

// Jobs that exhausted their attempts (erp_dead_letters), each with its own copy of the payload, kept
// until an admin retries or resolves it.

type Executor = Db | Transaction<Database>;
export type { ErpDeadLetter };

export function insertDeadLetter(
  db: Executor,
  d: { job_id: string; vendor_id: string; payload: Record<string, unknown>; error: string; attempts: number },
) {
  return db
    .insertInto('erp_dead_letters')
    .values({ ...d, payload: JSON.stringify(d.payload), error: d.error.slice(0, 2000) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function openDeadLetterOfJob(db: Executor, jobId: string) {
  return db
    .selectFrom('erp_dead_letters')
    .selectAll()
    .where('job_id', '=', jobId)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
}

export async function listDeadLetters(
  db: Executor,
  f: { vendorId?: string; includeResolved?: boolean },
  page: { limit: number; offset: number },
): Promise<{ rows: ErpDeadLetter[]; total: number }> {
  let q = db.selectFrom('erp_dead_letters');
  if (!f.includeResolved) q = q.where('resolved_at', 'is', null);
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function getDeadLetter(db: Executor, id: string): Promise<ErpDeadLetter | undefined> {
  return db.selectFrom('erp_dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Locks an unresolved dead letter for a retry or resolution (undefined: none, or already resolved). */
export function lockOpenDeadLetter(trx: Transaction<Database>, id: string) {
  return trx
    .selectFrom('erp_dead_letters')
    .selectAll()
    .where('id', '=', id)
    .where('resolved_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

export async function markRetried(db: Executor, id: string, retryJobId: string): Promise<void> {
  await db
    .updateTable('erp_dead_letters')
    .set((eb) => ({
      retry_count: eb('retry_count', '+', 1),
      last_retry_job_id: retryJobId,
      resolved_at: new Date(),
      resolved_by: 'retry',
      resolution: `retried as job ${retryJobId}`,
    }))
    .where('id', '=', id)
    .execute();
}

export async function resolveDeadLetter(
  db: Executor,
  id: string,
  by: string,
  resolution: string,
): Promise<void> {
  await db
    .updateTable('erp_dead_letters')
    .set({ resolved_at: new Date(), resolved_by: by, resolution })
    .where('id', '=', id)
    .execute();
}

/**
 * Resolves the open dead letters of an order the ERP did create after all (a late completed
 * callback): the job's own, and those of its other jobs (a DLQ retry's, itself dead-lettered). They
 * must neither be retried into a second order nor keep alerting.
 */
export async function resolveOpenDeadLettersOfJob(
  db: Executor,
  job: { id: string; order_id: string | null },
  by: string,
  resolution: string,
): Promise<string[]> {
  const rows = await db
    .updateTable('erp_dead_letters')
    .set({ resolved_at: new Date(), resolved_by: by, resolution })
    .where('resolved_at', 'is', null)
    .where((eb) =>
      job.order_id
        ? eb.or([eb('job_id', '=', job.id), eb(sql<string>`payload->>'orderId'`, '=', job.order_id)])
        : eb('job_id', '=', job.id),
    )
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function countOpenDeadLetters(db: Executor): Promise<{ vendor_id: string; n: number }[]> {
  const rows = await db
    .selectFrom('erp_dead_letters')
    .select(['vendor_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('resolved_at', 'is', null)
    .groupBy('vendor_id')
    .execute();
  return rows.map((r) => ({ vendor_id: r.vendor_id, n: Number(r.n) }));
}

/** Retention (the seed): resolved dead letters after 30 days; unresolved ones stay. */
export async function deleteResolvedDeadLetters(db: Executor, now = new Date()): Promise<number> {
  const r = await db
    .deleteFrom('erp_dead_letters')
    .where('resolved_at', '<', new Date(now.getTime() - 30 * 86_400_000))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
