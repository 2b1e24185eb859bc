import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';
import type { VectorClock } from '../../domain/crdt/vector-clock';
import type { EventType, PayloadOf } from '../../domain/events/schemas';

/** An event as the projections see it: envelope plus a payload already validated for its type. */
export interface ProjectionEvent<T extends EventType = EventType> {
  event_id: string;
  store_id: string;
  device_id: string;
  type: T;
  payload: PayloadOf<T>;
  vector_clock: VectorClock;
  created_at: Date;
  /** The bounded ordering stamp given where the event entered the federation (domain/crdt/hlc.ts). */
  hlc: Date;
  origin_node: string;
  actor_user_id: string | null;
}

export type Trx = Transaction<Database>;

/** A concurrent write resolved automatically, for conflict_audit_log. */
export interface ConflictRecord {
  store_id: string;
  entity_type: string;
  entity_id: string;
  fields: string[];
  strategy: string;
  winner_event_id: string;
  /** null when nothing lost (e.g. a device clock clamped where the event entered). */
  loser_event_id: string | null;
  details?: unknown;
}

/** A change to one warehouse_stock row, not yet applied (qty as exact decimal text). */
export interface StockDelta {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  qty: string;
}

/**
 * What a projection pass leaves for its caller: the conflicts it resolved (for the audit) and the
 * stock deltas of the movements it recorded. warehouse_stock rows are the hottest rows of a shop (every
 * till sells the same products), so their row locks are taken in the transaction's last statement,
 * held only until the commit right after it (applyStock).
 */
export interface ProjectionSink {
  conflicts: ConflictRecord[];
  stock: StockDelta[];
  /** Stock rows whose movements were removed: deleted after the deltas if no movement is left. */
  prune: Omit<StockDelta, 'qty'>[];
  /** Device ranges whose last number was used (their FiscalRange workflow is signalled after commit). */
  fiscalExhausted: ExhaustedRange[];
  /** Stock the checked sales took below zero (alerted after the commit, outside the push's locks). */
  oversold: Oversold[];
}

export interface Oversold {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  stock_after: number;
  sale_event_ids: string[];
}

export interface ExhaustedRange {
  store_id: string;
  range_id: string;
  /** The node that granted it (its workflow runs there). */
  node_id: string | null;
}

export function newSink(): ProjectionSink {
  return { conflicts: [], stock: [], prune: [], fiscalExhausted: [], oversold: [] };
}

/** Adds what a nested pass (a released savepoint) left to the enclosing sink. */
export function mergeSink(into: ProjectionSink, from: ProjectionSink): void {
  into.conflicts.push(...from.conflicts);
  into.stock.push(...from.stock);
  into.prune.push(...from.prune);
  into.fiscalExhausted.push(...from.fiscalExhausted);
  into.oversold.push(...from.oversold);
}

export function ofType<T extends EventType>(events: ProjectionEvent[], ...types: T[]): ProjectionEvent<T>[] {
  return events.filter((e): e is ProjectionEvent<T> => (types as EventType[]).includes(e.type));
}

/**
 * Keeps one event per (store, entity id): the one with the smallest event id. Add-wins sets use it so
 * that a second event claiming an existing id resolves the same way whatever the arrival order.
 */
export function firstPerId<E extends { event_id: string; store_id: string }>(
  events: E[],
  idOf: (e: E) => string,
): E[] {
  const best = new Map<string, E>();
  for (const e of events) {
    const key = `${e.store_id}:${idOf(e)}`;
    const current = best.get(key);
    if (!current || e.event_id.toLowerCase() < current.event_id.toLowerCase()) best.set(key, e);
  }
  return [...best.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/**
 * Transaction-scoped advisory locks on entity keys (`store:id`, sorted by the caller, so concurrent
 * requests lock in the same order). They cover ids that have no row yet, which row locks cannot.
 */
export async function lockEntities(trx: Trx, kind: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`SELECT ${lockSql(kind, ids)}`.execute(trx);
}

/**
 * The same locks as an expression to put in a statement that writes without reading (inserts whose
 * ON CONFLICT handles concurrency by itself), saving a round trip: `WITH l AS (SELECT <this>) …
 * WHERE EXISTS (SELECT 1 FROM l)` takes the locks before the first row is written.
 */
export function lockSql(kind: string, ids: string[]) {
  // unnest yields the array in order; callers pass ids sorted, so every request locks in one order.
  return sql`count(pg_advisory_xact_lock(hashtextextended(${kind} || ':' || id, 0))) FROM unnest(${ids}::text[]) AS id`;
}
