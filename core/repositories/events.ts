import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, EventRow } from '../db/schema';
import type { WireEventRow } from '../federation/peer-client';

// Reads of the event log for the relay and its status (the log is written by core/eventlog).

type Executor = Db | Transaction<Database>;

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
      e.created_at, e.actor_user_id, e.origin_node, e.delta_payload
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
