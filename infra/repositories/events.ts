import { sql, type RawBuilder } from 'kysely';
import type { VectorClock } from '../../domain/crdt/vector-clock';
import type { Db } from '../db';
import type { EventRow, EventsTable } from '../db/schema';
import { WIRE_COLUMNS, type WireEventRow } from '../peers/peer-client';
import type { Trx } from '../projections/types';
import { orderCausally } from '../../domain/relay/priority';
import { columnList, recordset, type ColumnMap } from './recordset';

// The event log: what ingest writes (infra/eventlog/ingest.ts composes these statements) and what the
// relay and its status read.

type Executor = Db | Trx;

/** The columns ingest appends (node_seq, received_at and the source columns are set by the statement). */
export const EVENT_COLUMNS = {
  event_id: 'uuid',
  store_id: 'uuid',
  device_id: 'text',
  seq: 'bigint',
  type: 'text',
  vector_clock: 'jsonb',
  payload: 'jsonb',
  full_payload_hash: 'text',
  delta_payload: 'jsonb',
  created_at: 'timestamptz',
  hlc: 'timestamptz',
  origin_node: 'text',
  actor_user_id: 'text',
  source: 'text',
  source_peer: 'text',
  projection_status: 'text',
  projection_error: 'text',
} as const satisfies ColumnMap<EventsTable>;

export type EventInsertRow = { [K in keyof typeof EVENT_COLUMNS]: unknown };

/** What identifies an event as the same event: its envelope and its payload hash. */
export interface KnownEvent {
  event_id: string;
  store_id: string;
  device_id: string;
  seq: string;
  type: string;
  created_at: string;
  full_payload_hash: string;
}

/** A vector-clock entry of an event being stamped: (store, device, seq) it has seen. */
export interface ClockEntry {
  i: number;
  store_id: string;
  device_id: string;
  seq: number;
}

/**
 * The ingest's first statement, one round trip: the events of the batch already in the log (their
 * envelopes, for duplicate detection), and for each clock entry (the caller passes each distinct one
 * once) the latest stamp among the events it covers (a device's stamps grow with its seq, so its
 * latest event at or below the seen seq holds the largest). It also makes the planner prefer index
 * lookups for the rest of the transaction: the projections read a handful of rows by key in tables that grow all day, and with
 * statistics a little stale it would hash-join whole tables instead.
 */
export async function lookupBatch(
  trx: Trx,
  eventIds: string[],
  clockEntries: ClockEntry[],
): Promise<{ known: KnownEvent[]; floors: Map<number, Date> }> {
  const r = await sql<{ known: KnownEvent[] | null; floors: { i: number; floor: string }[] | null }>`
    WITH plan AS (
      SELECT set_config('enable_seqscan', 'off', true) || set_config('enable_hashjoin', 'off', true)
        || set_config('enable_mergejoin', 'off', true) AS s
    ), known AS (
      SELECT e.event_id, e.store_id, e.device_id, e.seq::text AS seq, e.type,
        to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at, e.full_payload_hash
      FROM events e, plan WHERE e.event_id = ANY(${eventIds}::uuid[]) AND plan.s IS NOT NULL
    ), floors AS (
      SELECT v.i, max(f.hlc) AS floor
      FROM ${recordset({ i: 'int', store_id: 'uuid', device_id: 'text', seq: 'bigint' }, clockEntries, 'v')}
      CROSS JOIN LATERAL (
        SELECT e.hlc FROM events e
        WHERE e.store_id = v.store_id AND e.device_id = v.device_id AND e.seq <= v.seq
        ORDER BY e.seq DESC LIMIT 1) f
      GROUP BY v.i
    )
    SELECT (SELECT json_agg(known) FROM known) AS known, (SELECT json_agg(floors) FROM floors) AS floors`.execute(
    trx,
  );
  const row = r.rows[0]!;
  return {
    known: row.known ?? [],
    floors: new Map((row.floors ?? []).map((f) => [f.i, new Date(f.floor)])),
  };
}

/**
 * The INSERT of the log's new rows, for the ingest's tail statement (`guard` holds the feed lock);
 * returns the event id and node_seq of each row inserted.
 */
export function appendEventsSql(rows: EventInsertRow[], guard: RawBuilder<unknown>) {
  const cols = columnList(EVENT_COLUMNS);
  return sql`
    INSERT INTO events (${cols}, projection_attempts)
    SELECT ${cols}, 1 FROM ${recordset(EVENT_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, node_seq`;
}

/** The vector clocks of these events of their stores. */
export async function clocksOf(
  trx: Trx,
  events: { store_id: string; event_id: string }[],
): Promise<Map<string, VectorClock>> {
  if (events.length === 0) return new Map();
  const r = await sql<{ event_id: string; vector_clock: VectorClock }>`
    SELECT e.event_id, e.vector_clock FROM events e
    JOIN unnest(${events.map((e) => e.store_id)}::uuid[], ${events.map((e) => e.event_id)}::uuid[]) AS k(store_id, event_id)
      USING (store_id, event_id)`.execute(trx);
  return new Map(r.rows.map((x) => [x.event_id, x.vector_clock]));
}

export type RelayEventRow = WireEventRow & { node_seq: string };

export interface RelaySlice {
  /** The events to send, in log order (echoes of the peer's own events are left out). */
  events: RelayEventRow[];
  /** node_seq of the last event of the slice, sent or skipped (the relay's next cursor); null if none. */
  lastSeq: string | null;
  /** Events in the slice, echoes included. */
  read: number;
  /** Whether the log goes on after the slice (a full slice, or one cut short by the byte budget). */
  more: boolean;
}

/**
 * Bytes an event adds to a push body beyond its payload, delta and vector clock (ids, type, device,
 * timestamps, keys). Generous on purpose: the budget is an upper bound of the body, not a guess.
 */
const ENVELOPE_BYTES = 512;

/**
 * The next slice of the log after `after` for relaying to `peerId`: at most `limit` events and,
 * after the first, no more than `maxBytes` of serialised events, so a run of big events can never
 * make one request larger than the peer's body limit (or than a string V8 can build). The first event
 * always belongs to the slice, whatever its size, so the relay always moves on.
 *
 * The walk measures one event at a time (`octet_length` of the stored JSON, which is at least what
 * JSON.stringify makes of it) and stops at the first event over budget: a slice costs one index probe
 * per event, and a backlog of megabyte events is measured once each instead of re-read whole per batch.
 * Echoes (events that came from this peer) are not sent, so they weigh nothing and are not loaded.
 */
export async function readRelaySlice(
  db: Executor,
  input: { after: number | string; limit: number; maxBytes: number; peerId: string },
): Promise<RelaySlice> {
  const { after, limit, maxBytes, peerId } = input;
  const bytes = (e: string) =>
    sql`(CASE WHEN ${sql.ref(`${e}.source_peer`)} IS DISTINCT FROM ${peerId}
      THEN octet_length(${sql.ref(`${e}.payload`)}::text) + octet_length(${sql.ref(`${e}.vector_clock`)}::text)
        + coalesce(octet_length(${sql.ref(`${e}.delta_payload`)}::text), 0) + ${ENVELOPE_BYTES}
      ELSE 0 END)::bigint`;
  const r = await sql<RelayEventRow & { n: number; walked_seq: string; total: string; sent: boolean }>`
    WITH RECURSIVE walk (n, node_seq, total) AS (
      (SELECT 1, e.node_seq, ${bytes('e')} FROM events e
       WHERE e.node_seq > ${String(after)} ORDER BY e.node_seq LIMIT 1)
      UNION ALL
      (SELECT w.n + 1, nxt.node_seq, w.total + nxt.bytes
       FROM walk w CROSS JOIN LATERAL (
         SELECT e.node_seq, ${bytes('e')} AS bytes FROM events e
         WHERE e.node_seq > w.node_seq ORDER BY e.node_seq LIMIT 1) nxt
       WHERE w.n < ${limit} AND w.total <= ${maxBytes})
    )
    SELECT w.n, w.node_seq AS walked_seq, w.total, e.node_seq IS NOT NULL AS sent,
      e.node_seq, e.event_id, e.store_id, e.device_id, e.seq, e.type, e.vector_clock, e.payload,
      e.created_at, e.actor_user_id, e.origin_node, e.hlc, e.delta_payload
    FROM walk w
    LEFT JOIN events e ON e.node_seq = w.node_seq AND (w.n = 1 OR w.total <= ${maxBytes})
      AND e.source_peer IS DISTINCT FROM ${peerId}
    ORDER BY w.n`.execute(db);
  const inSlice = r.rows.filter((row) => row.n === 1 || Number(row.total) <= maxBytes);
  const events = inSlice
    .filter((row) => row.sent)
    .map(({ n: _n, walked_seq: _w, total: _t, sent: _s, ...event }) => event);
  return {
    events,
    lastSeq: inSlice.at(-1)?.walked_seq ?? null,
    read: inSlice.length,
    more: r.rows.length > inSlice.length || inSlice.length === limit,
  };
}

/** Events committed here after `cursor` that the relay to `peerId` still has to send. */
export async function relayLag(
  db: Executor,
  peerId: string,
  cursor: number,
): Promise<{ events: number; oldestReceivedAt: Date | null }> {
  const r = await sql<{ n: string; oldest: Date | null }>`
    SELECT count(*) AS n, min(received_at) AS oldest FROM events
    WHERE node_seq > ${cursor} AND source_peer IS DISTINCT FROM ${peerId}`.execute(db);
  const row = r.rows[0]!;
  return { events: Number(row.n), oldestReceivedAt: row.oldest };
}

export function findEvent(db: Executor, storeId: string, eventId: string): Promise<EventRow | undefined> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
}

/** A page of a store's change feed after `since`, in this node's commit order (one more, to tell has_more). */
export function readFeed(db: Executor, storeId: string, since: number, limit: number) {
  return db
    .selectFrom('events')
    .select(['node_seq', ...WIRE_COLUMNS])
    .where('store_id', '=', storeId)
    .where('node_seq', '>', String(since))
    .orderBy('node_seq')
    .limit(limit + 1)
    .execute();
}

/**
 * Events not yet projected, received in the last `maxAgeDays`, fewest attempts first (an event that
 * fails every time goes to the back, so a block of permanently failing events cannot starve newer
 * orphans out of the batch), locked; rows another healer holds are skipped.
 */
export function claimUnprojected(
  trx: Trx,
  input: { batchSize: number; maxAgeDays: number; storeId?: string },
) {
  let query = trx
    .selectFrom('events')
    .select([
      'event_id',
      'store_id',
      'device_id',
      'type',
      'payload',
      'vector_clock',
      'created_at',
      'hlc',
      'origin_node',
      'actor_user_id',
    ])
    .where('projection_status', '<>', 'processed')
    .where('received_at', '>=', sql<Date>`now() - make_interval(secs => ${input.maxAgeDays * 86_400})`);
  if (input.storeId !== undefined) query = query.where('store_id', '=', input.storeId);
  return query
    .orderBy('projection_attempts')
    .orderBy('node_seq')
    .limit(input.batchSize)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** One statement for a batch: healed → processed, failed → failed with its error; attempts + 1. */
export async function recordProjectionOutcomes(
  trx: Trx,
  outcomes: { event_id: string; error: string | null }[],
): Promise<void> {
  await sql`
    UPDATE events SET
      projection_status = CASE WHEN o.error IS NULL THEN 'processed' ELSE 'failed' END,
      projection_error = o.error,
      projection_attempts = events.projection_attempts + 1
    FROM ${recordset({ event_id: 'uuid', error: 'text' }, outcomes, 'o')}
    WHERE events.event_id = o.event_id`.execute(trx);
}

export type StoredEvent = WireEventRow & Pick<EventRow, 'node_seq'>;

/** Full rows of the store's events with these ids, in causal relay order (for replay to a peer). */
export async function fetchEvents(db: Db, storeId: string, eventIds: string[]): Promise<StoredEvent[]> {
  if (eventIds.length === 0) return [];
  const rows = await db
    .selectFrom('events')
    .select(['node_seq', ...WIRE_COLUMNS])
    .where('store_id', '=', storeId)
    .where('event_id', '=', sql<string>`ANY(${eventIds.map((id) => id.toLowerCase())}::uuid[])`)
    .execute();
  return orderCausally(rows);
}

/** The event types of these ids (for per-entity counts), id → type. */
export async function typesOf(db: Db, storeId: string, eventIds: string[]): Promise<Map<string, string>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('events')
    .select(['event_id', 'type'])
    .where('store_id', '=', storeId)
    .where('event_id', '=', sql<string>`ANY(${eventIds}::uuid[])`)
    .execute();
  return new Map(rows.map((r) => [r.event_id, r.type]));
}

/**
 * The store's feed position: the highest node_seq of its events (0 before the first). Inside a
 * snapshot transaction it is exactly what that snapshot holds: node_seq is handed out under the feed
 * lock, held until commit, so the events a snapshot sees are those at or below it.
 */
export async function feedPosition(db: Executor, storeId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select(sql<string | null>`max(node_seq)`.as('n'))
    .where('store_id', '=', storeId)
    .executeTakeFirstOrThrow();
  return Number(row.n ?? 0);
}

/** The envelopes of these events of the store (what explain shows of each), by id. */
export async function eventMetaOf(db: Executor, storeId: string, eventIds: string[]) {
  if (eventIds.length === 0) return new Map<string, EventMeta>();
  const rows = await db
    .selectFrom('events')
    .select([
      'event_id',
      'type',
      'device_id',
      'origin_node',
      'source',
      'source_peer',
      'hlc',
      'created_at',
      'node_seq',
      'payload',
    ])
    .where('store_id', '=', storeId)
    .where('event_id', '=', sql<string>`ANY(${eventIds}::uuid[])`)
    .execute();
  return new Map(rows.map((r) => [r.event_id, r]));
}
export type EventMeta = Pick<
  EventRow,
  | 'event_id'
  | 'type'
  | 'device_id'
  | 'origin_node'
  | 'source'
  | 'source_peer'
  | 'hlc'
  | 'created_at'
  | 'node_seq'
  | 'payload'
>;

/** Every ProductCreated and ProductUpdated of one product of the store (index events_product_writes_idx). */
export function productWrites(db: Executor, storeId: string, productId: string) {
  return db
    .selectFrom('events')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('type', 'in', ['ProductCreated', 'ProductUpdated'])
    .where(sql<string>`lower(payload->>'product_id')`, '=', productId)
    .orderBy('node_seq')
    .execute();
}

/**
 * What the store's log has seen, as one vector clock (the highest seq of each device) and the latest
 * ordering stamp: a device that starts from a snapshot merges it, so its next writes are causally
 * after everything the snapshot shows, as if it had pulled those events one by one.
 */
export async function storeClock(
  db: Executor,
  storeId: string,
): Promise<{ vector_clock: Record<string, number>; latest: Date | null }> {
  const rows = await db
    .selectFrom('events')
    .select(['device_id', sql<string>`max(seq)`.as('seq'), sql<Date>`max(hlc)`.as('hlc')])
    .where('store_id', '=', storeId)
    .groupBy('device_id')
    .execute();
  let latest: Date | null = null;
  const vector_clock: Record<string, number> = {};
  for (const r of rows) {
    vector_clock[r.device_id] = Number(r.seq);
    if (!latest || r.hlc > latest) latest = r.hlc;
  }
  return { vector_clock, latest };
}
