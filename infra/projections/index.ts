import { sql } from 'kysely';
import type { Log } from '../log';
import { describeIssues } from '../../domain/errors';
import { payloadSchemas, type EventType } from '../../domain/events/schemas';
import type { EventRow } from '../db/schema';
import { insertConflicts } from '../repositories/conflict-audit-log';
import { projectCashLedger } from './cash-ledger';
import { projectDebts } from './debts';
import { projectEscrow } from './escrow';
import { projectFiscal } from './fiscal';
import { projectRegisters } from './registers';
import { projectSales } from './sales';
import { recordMovements, stockMovementsOf } from './stock';
import {
  mergeSink,
  newSink,
  type ConflictRecord,
  type ProjectionEvent,
  type ProjectionSink,
  type Trx,
} from './types';

export type { ConflictRecord, ExhaustedRange, Oversold, ProjectionEvent, ProjectionSink } from './types';
export { newSink } from './types';
export { applyStock, pruneStock, stockUpsertSql } from './stock';

/**
 * Applies a set of events to every read model with set-based statements: one or two statements per
 * family, whatever the batch size. Families run in a fixed order so concurrent requests take row
 * locks in the same order. Stock deltas are left in `sink.stock`: the caller applies them last
 * (applyStock, or the ingest tail), so the hot warehouse_stock rows stay locked only until commit.
 */
export async function projectEvents(
  trx: Trx,
  events: ProjectionEvent[],
  sink: ProjectionSink,
): Promise<void> {
  if (events.length === 0) return;
  await projectRegisters(trx, events, sink);
  const movements = stockMovementsOf(events);
  await projectSales(trx, events, movements, sink);
  await recordMovements(trx, movements, [], sink);
  await projectDebts(trx, events);
  await projectCashLedger(trx, events);
  await projectEscrow(trx, events);
  await projectFiscal(trx, events, sink);
}

export interface ProjectionFailure {
  event_id: string;
  error: string;
}

/**
 * Projects a batch inside a savepoint. If the batch fails, it is rolled back and each event is
 * projected alone in its own savepoint, so one bad event is marked failed and the others still land.
 * The events themselves are never rolled back: a projection error loses nothing.
 */
export async function projectWithFallback(
  trx: Trx,
  events: ProjectionEvent[],
  sink: ProjectionSink,
  log: Log,
): Promise<ProjectionFailure[]> {
  if (events.length === 0) return [];
  const batchSink = newSink();
  await sql`SAVEPOINT project_batch`.execute(trx);
  try {
    await projectEvents(trx, events, batchSink);
    await sql`RELEASE SAVEPOINT project_batch`.execute(trx);
    mergeSink(sink, batchSink);
    return [];
  } catch (err) {
    await sql`ROLLBACK TO SAVEPOINT project_batch`.execute(trx);
    if (isTransient(err)) throw err;
    if (events.length === 1) {
      return [{ event_id: events[0]!.event_id, error: errorText(err) }];
    }
    log.warn({ err, events: events.length }, 'batch projection failed; projecting events one by one');
  }
  const failures: ProjectionFailure[] = [];
  for (const event of events) {
    const one = newSink();
    await sql`SAVEPOINT project_one`.execute(trx);
    try {
      await projectEvents(trx, [event], one);
      await sql`RELEASE SAVEPOINT project_one`.execute(trx);
      mergeSink(sink, one);
    } catch (err) {
      await sql`ROLLBACK TO SAVEPOINT project_one`.execute(trx);
      if (isTransient(err)) throw err;
      failures.push({ event_id: event.event_id, error: errorText(err) });
    }
  }
  return failures;
}

/**
 * Deadlocks and serialization failures say nothing about the events: the whole transaction is
 * retried (ingestEvents does), instead of marking events failed or projecting them one by one, which
 * would hold more locks for longer, in event order, and deadlock again.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 2000);
}

/**
 * Writes resolved conflicts to conflict_audit_log inside its own savepoint. The audit is a record,
 * not a gate: if it cannot be written the push still succeeds, and the failure is logged.
 */
export async function writeConflictAudit(trx: Trx, conflicts: ConflictRecord[], log: Log): Promise<number> {
  if (conflicts.length === 0) return 0;
  await sql`SAVEPOINT conflict_audit`.execute(trx);
  try {
    await insertConflicts(trx, conflicts);
    await sql`RELEASE SAVEPOINT conflict_audit`.execute(trx);
    return conflicts.length;
  } catch (err) {
    await sql`ROLLBACK TO SAVEPOINT conflict_audit`.execute(trx);
    log.error({ err, conflicts: conflicts.length }, 'conflict audit could not be written; push continues');
    return 0;
  }
}

/**
 * Turns stored event rows into projection events, validating each payload against its type's
 * schema. Rows that no longer validate (written by an older version, say) come back as failures.
 */
export function fromRows(
  rows: Pick<
    EventRow,
    | 'event_id'
    | 'store_id'
    | 'device_id'
    | 'type'
    | 'payload'
    | 'vector_clock'
    | 'created_at'
    | 'hlc'
    | 'origin_node'
    | 'actor_user_id'
  >[],
): {
  events: ProjectionEvent[];
  invalid: ProjectionFailure[];
} {
  const events: ProjectionEvent[] = [];
  const invalid: ProjectionFailure[] = [];
  for (const r of rows) {
    const schema = payloadSchemas[r.type as EventType];
    if (!schema) {
      invalid.push({ event_id: r.event_id, error: `unknown event type ${r.type}` });
      continue;
    }
    const parsed = schema.safeParse(r.payload);
    if (!parsed.success) {
      invalid.push({
        event_id: r.event_id,
        error: `invalid ${r.type} payload: ${describeIssues(parsed.error.issues.slice(0, 1)) || 'unknown'}`,
      });
      continue;
    }
    events.push({
      event_id: r.event_id,
      store_id: r.store_id,
      device_id: r.device_id,
      type: r.type as EventType,
      payload: parsed.data,
      vector_clock: r.vector_clock,
      created_at: r.created_at,
      hlc: r.hlc,
      origin_node: r.origin_node,
      actor_user_id: r.actor_user_id,
    } as ProjectionEvent);
  }
  return { events, invalid };
}
