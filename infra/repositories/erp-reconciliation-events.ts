import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpReconcileEventType, ErpReconciliationEvent } from '../db/erp-schema';

// One row per VendorReconcile run (erp_reconciliation_events): what it found, what it fixed, how long.

type Executor = Db | Transaction<Database>;
export type { ErpReconciliationEvent };

export function insertReconciliationEvent(
  db: Executor,
  e: {
    vendor_id: string;
    event_type: ErpReconcileEventType;
    trigger: string;
    summary: Record<string, unknown>;
    duration_ms: number;
  },
) {
  return db
    .insertInto('erp_reconciliation_events')
    .values({ ...e, summary: JSON.stringify(e.summary) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listReconciliationEvents(
  db: Executor,
  f: { vendorId?: string },
  page: { limit: number; offset: number },
): Promise<{ rows: ErpReconciliationEvent[]; total: number }> {
  let q = db.selectFrom('erp_reconciliation_events');
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function reconciliationMetrics(db: Executor, vendorId: string) {
  const r = await db
    .selectFrom('erp_reconciliation_events')
    .select([
      sql<number>`count(*)::int`.as('event_count'),
      sql<Date | null>`max(created_at)`.as('last_run'),
      sql<number>`count(*) FILTER (WHERE event_type IN ('drift_resolved', 'drift_unresolved'))::int`.as(
        'drifts',
      ),
    ])
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  return {
    eventCount: r.event_count,
    lastRun: r.last_run ? new Date(r.last_run).toISOString() : null,
    driftFrequency: r.event_count === 0 ? 0 : r.drifts / r.event_count,
  };
}

/** Retention (the seed): 30 days. */
export async function deleteOldReconciliationEvents(db: Executor, now = new Date()): Promise<number> {
  const r = await db
    .deleteFrom('erp_reconciliation_events')
    .where('created_at', '<', new Date(now.getTime() - 30 * 86_400_000))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
