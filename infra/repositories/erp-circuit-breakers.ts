import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpCircuitBreaker } from '../db/erp-schema';
import { closedBreaker, type BreakerState } from '../../domain/erp/breaker';

// Circuit breakers per vendor and API type (erp_circuit_breakers). One row each, read and written
// under a row lock, so every worker and API process shares one state (domain/erp/breaker.ts decides).

type Executor = Db | Transaction<Database>;
export type { ErpCircuitBreaker };

const toState = (r: ErpCircuitBreaker): BreakerState => ({
  state: r.state,
  calls: r.calls,
  failures: r.failures,
  windowStartedAt: r.window_started_at.getTime(),
  openedAt: r.opened_at?.getTime() ?? null,
  trialStartedAt: r.trial_started_at?.getTime() ?? null,
});

/** The breaker's state, locked until the transaction ends (created closed on first use). */
export async function lockBreaker(
  trx: Transaction<Database>,
  vendorId: string,
  apiType: string,
): Promise<BreakerState> {
  await trx
    .insertInto('erp_circuit_breakers')
    .values({ vendor_id: vendorId, api_type: apiType })
    .onConflict((oc) => oc.doNothing())
    .execute();
  const row = await trx
    .selectFrom('erp_circuit_breakers')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .where('api_type', '=', apiType)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return toState(row);
}

export async function saveBreaker(
  db: Executor,
  vendorId: string,
  apiType: string,
  s: BreakerState,
): Promise<void> {
  await db
    .updateTable('erp_circuit_breakers')
    .set({
      state: s.state,
      calls: s.calls,
      failures: s.failures,
      window_started_at: new Date(s.windowStartedAt),
      opened_at: s.openedAt === null ? null : new Date(s.openedAt),
      trial_started_at: s.trialStartedAt === null ? null : new Date(s.trialStartedAt),
      updated_at: new Date(),
    })
    .where('vendor_id', '=', vendorId)
    .where('api_type', '=', apiType)
    .execute();
}

export function listBreakers(db: Executor, vendorId?: string): Promise<ErpCircuitBreaker[]> {
  let q = db.selectFrom('erp_circuit_breakers').selectAll();
  if (vendorId) q = q.where('vendor_id', '=', vendorId);
  return q.orderBy('vendor_id').orderBy('api_type').execute();
}

/** Forces breakers closed (one API type, or all of a vendor's); returns how many were reset. */
export async function resetBreakers(db: Executor, vendorId: string, apiType?: string): Promise<number> {
  const closed = closedBreaker(Date.now());
  let q = db
    .updateTable('erp_circuit_breakers')
    .set({
      state: 'closed',
      calls: 0,
      failures: 0,
      window_started_at: new Date(closed.windowStartedAt),
      opened_at: null,
      trial_started_at: null,
      updated_at: new Date(),
    })
    .where('vendor_id', '=', vendorId);
  if (apiType) q = q.where('api_type', '=', apiType);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** One page of the breakers (the admin status list), with the total. */
export async function listBreakersPage(
  db: Executor,
  f: { vendorId?: string },
  page: { limit: number; offset: number },
): Promise<{ rows: ErpCircuitBreaker[]; total: number }> {
  let q = db.selectFrom('erp_circuit_breakers');
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('vendor_id').orderBy('api_type').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
