import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpJobStatus, ErpSyncJob } from '../db/erp-schema';

// Sync jobs towards an ERP (erp_sync_jobs): one per order delivery, driven by its ErpOrderDelivery
// workflow; the row is what admins and metrics read.

type Executor = Db | Transaction<Database>;
export type { ErpSyncJob };

export function createJob(
  db: Executor,
  j: {
    vendor_id: string;
    order_id: string | null;
    job_type: string;
    payload: Record<string, unknown>;
    correlation_id: string;
    idempotency_key?: string | null;
  },
) {
  return db
    .insertInto('erp_sync_jobs')
    .values({ ...j, payload: JSON.stringify(j.payload) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Several jobs in one statement (the order producer's). */
export function createJobs(
  db: Executor,
  rows: {
    vendor_id: string;
    order_id: string;
    job_type: string;
    payload: Record<string, unknown>;
    correlation_id: string;
    idempotency_key: string | null;
  }[],
): Promise<ErpSyncJob[]> {
  if (rows.length === 0) return Promise.resolve([]);
  return db
    .insertInto('erp_sync_jobs')
    .values(rows.map((r) => ({ ...r, payload: JSON.stringify(r.payload) })))
    .returningAll()
    .execute();
}

export function getJob(db: Executor, id: string): Promise<ErpSyncJob | undefined> {
  return db.selectFrom('erp_sync_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listJobs(
  db: Executor,
  f: { vendorId?: string; status?: ErpJobStatus },
  page: { limit: number; offset: number },
): Promise<{ rows: ErpSyncJob[]; total: number }> {
  let q = db.selectFrom('erp_sync_jobs');
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  if (f.status) q = q.where('status', '=', f.status);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** The key the agent deduplicates on: the job's own id unless it carries an earlier job's key. */
export const idempotencyKeyOf = (j: Pick<ErpSyncJob, 'id' | 'idempotency_key'>) => j.idempotency_key ?? j.id;

/** Records that these jobs' workflows exist (started now, or found already started). */
export async function markWorkflowStarted(db: Executor, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('erp_sync_jobs')
    .set({ workflow_started_at: new Date() })
    .where('id', 'in', ids)
    .where('workflow_started_at', 'is', null)
    .execute();
}

/**
 * Pending jobs whose workflow was never recorded as started, oldest first: a crash between the
 * job's commit and its workflow's start leaves one (the order sweep starts it). Jobs younger than
 * `olderThanMs` are left to whoever is starting them right now.
 */
export function listUnstartedJobs(
  db: Executor,
  olderThanMs: number,
  limit: number,
  now = new Date(),
): Promise<Pick<ErpSyncJob, 'id' | 'vendor_id'>[]> {
  return db
    .selectFrom('erp_sync_jobs')
    .select(['id', 'vendor_id'])
    .where('status', '=', 'pending')
    .where('workflow_started_at', 'is', null)
    .where('created_at', '<=', new Date(now.getTime() - olderThanMs))
    .orderBy('created_at')
    .limit(limit)
    .execute();
}

export async function markAttempt(db: Executor, id: string, attempt: number): Promise<void> {
  await db
    .updateTable('erp_sync_jobs')
    .set({ status: 'in_progress', attempts: attempt, updated_at: new Date() })
    .where('id', '=', id)
    .where('status', '<>', 'completed')
    .execute();
}

export async function markAttemptFailed(db: Executor, id: string, error: string): Promise<void> {
  await db
    .updateTable('erp_sync_jobs')
    .set({ status: 'pending', last_error: error.slice(0, 2000), updated_at: new Date() })
    .where('id', '=', id)
    .where('status', '<>', 'completed')
    .execute();
}

/** Completes a job; false when it was already completed (a repeated callback changes nothing). */
export async function markCompleted(db: Executor, id: string, erpReference: string): Promise<boolean> {
  const r = await db
    .updateTable('erp_sync_jobs')
    .set({
      status: 'completed',
      erp_reference: erpReference,
      completed_at: new Date(),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .where('status', '<>', 'completed')
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function markFailed(db: Executor, id: string, error: string): Promise<void> {
  await db
    .updateTable('erp_sync_jobs')
    .set({ status: 'failed', last_error: error.slice(0, 2000), updated_at: new Date() })
    .where('id', '=', id)
    .where('status', '<>', 'completed')
    .execute();
}

export interface VendorJobMetrics {
  total: number;
  pending: number;
  completed: number;
  failed: number;
  successRate: number;
  avgLatencyMs: number | null;
  retryRate: number;
}

/** The seed's per-vendor figures, in one aggregate over the vendor's jobs. */
export async function vendorJobMetrics(db: Executor, vendorId: string): Promise<VendorJobMetrics> {
  const r = await db
    .selectFrom('erp_sync_jobs')
    .select([
      sql<number>`count(*)::int`.as('total'),
      sql<number>`count(*) FILTER (WHERE status IN ('pending', 'in_progress'))::int`.as('pending'),
      sql<number>`count(*) FILTER (WHERE status = 'completed')::int`.as('completed'),
      sql<number>`count(*) FILTER (WHERE status = 'failed')::int`.as('failed'),
      sql<number>`count(*) FILTER (WHERE attempts > 1)::int`.as('retried'),
      sql<
        number | null
      >`(avg(extract(epoch FROM completed_at - created_at) * 1000) FILTER (WHERE status = 'completed'))::float8`.as(
        'avg_latency_ms',
      ),
    ])
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  const finished = r.completed + r.failed;
  return {
    total: r.total,
    pending: r.pending,
    completed: r.completed,
    failed: r.failed,
    successRate: finished === 0 ? 0 : r.completed / finished,
    avgLatencyMs: r.avg_latency_ms === null ? null : Math.round(r.avg_latency_ms),
    retryRate: r.total === 0 ? 0 : r.retried / r.total,
  };
}

/** Retention (the seed): completed jobs after 24 h, failed and pending ones after 7 days. */
export async function deleteExpiredJobs(db: Executor, now = new Date()): Promise<number> {
  const r = await db
    .deleteFrom('erp_sync_jobs')
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'completed'), eb('updated_at', '<', new Date(now.getTime() - 86_400_000))]),
        eb.and([
          eb('status', '<>', 'completed'),
          eb('updated_at', '<', new Date(now.getTime() - 7 * 86_400_000)),
        ]),
      ]),
    )
    // A job with an unresolved dead letter is kept while an admin may still look at it; a resolved
    // one outlives its job (its job_id is set to null; migration 20261204_0012).
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('erp_dead_letters')
            .select('id')
            .whereRef('erp_dead_letters.job_id', '=', 'erp_sync_jobs.id')
            .where('resolved_at', 'is', null),
        ),
      ),
    )
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
