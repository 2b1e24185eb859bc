import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, OverallHealth } from '../db/schema';

// One store's health report per monitor tick: the history an operator charts, and the previous
// state the monitor compares with to raise alerts on a transition.

type Executor = Db | Transaction<Database>;

export interface HealthSnapshot {
  store_id: string;
  taken_at: Date;
  overall: OverallHealth;
  report: unknown;
}

export async function saveSnapshot(db: Executor, s: HealthSnapshot): Promise<void> {
  await db
    .insertInto('health_snapshots')
    .values({ ...s, report: JSON.stringify(s.report) })
    .onConflict((oc) => oc.columns(['store_id', 'taken_at']).doNothing())
    .execute();
}

/** The store's snapshots of the last `hours`, oldest first. */
export function snapshotsSince(db: Executor, storeId: string, hours: number): Promise<HealthSnapshot[]> {
  return db
    .selectFrom('health_snapshots')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('taken_at', '>', new Date(Date.now() - hours * 3_600_000))
    .orderBy('taken_at')
    .execute();
}

/** The store's latest snapshot, if any. */
export function latestSnapshot(db: Executor, storeId: string): Promise<HealthSnapshot | undefined> {
  return db
    .selectFrom('health_snapshots')
    .selectAll()
    .where('store_id', '=', storeId)
    .orderBy('taken_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Deletes snapshots older than `days`; returns how many. */
export async function pruneSnapshots(db: Executor, days: number): Promise<number> {
  const r = await db
    .deleteFrom('health_snapshots')
    .where('taken_at', '<', new Date(Date.now() - days * 86_400_000))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
