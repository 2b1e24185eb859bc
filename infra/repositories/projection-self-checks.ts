import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';

// The outcome of each projection self-check of a store (infra/projections/self-check.ts): the health
// report shows the latest, and its differences are a metric.

type Executor = Db | Transaction<Database>;

export interface SelfCheckRow {
  store_id: string;
  checked_at: Date;
  events: number;
  differences: number;
  duration_ms: number;
  details: unknown;
}

export async function saveSelfCheck(db: Executor, row: SelfCheckRow): Promise<void> {
  await db
    .insertInto('projection_self_checks')
    .values({ ...row, details: JSON.stringify(row.details) })
    .onConflict((oc) => oc.columns(['store_id', 'checked_at']).doNothing())
    .execute();
}

export async function latestSelfCheck(db: Executor, storeId: string): Promise<SelfCheckRow | undefined> {
  const row = await db
    .selectFrom('projection_self_checks')
    .selectAll()
    .where('store_id', '=', storeId)
    .orderBy('checked_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { ...row, events: Number(row.events) };
}
