import { sql, type RawBuilder } from 'kysely';
import type { VectorClock } from '../crdt/vector-clock';
import type { EventsTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, recordset, type ColumnMap } from './recordset';

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
 * envelopes, for duplicate detection), and for each event being stamped the latest stamp among the
 * events its vector clock covers (a device's stamps grow with its seq, so its latest event at or below
 * the seen seq holds the largest). It also makes the planner prefer index lookups for the rest of the
 * transaction: the projections read a handful of rows by key in tables that grow all day, and with
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
 * returns the node_seq of each row inserted.
 */
export function appendEventsSql(
  rows: EventInsertRow[],
  source: string,
  sourcePeer: string | null,
  guard: RawBuilder<unknown>,
) {
  const cols = columnList(EVENT_COLUMNS);
  return sql`
    INSERT INTO events (${cols}, source, source_peer, projection_attempts)
    SELECT ${cols}, ${source}, ${sourcePeer}, 1 FROM ${recordset(EVENT_COLUMNS, rows)}
    WHERE ${guard}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING node_seq`;
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
