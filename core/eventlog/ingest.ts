import { sql } from 'kysely';
import type { Log } from '../log';
import { isStalePlan, type Db } from '../db';
import type { EventSource } from '../db/schema';
import { eventDigest, hashPayload, xorInto } from '../events/hash';
import type { SyncEvent } from '../events/schemas';
import {
  isTransient,
  newSink,
  projectEvents,
  projectWithFallback,
  pruneStock,
  stockUpsertSql,
  writeConflictAudit,
  type ProjectionEvent,
  type ProjectionFailure,
} from '../projections';
import type { Trx } from '../projections/types';

export interface IngestOptions {
  /** This node's id: stamped as origin_node on events that enter the federation here. */
  nodeId: string;
  source: EventSource;
  /** The peer that relayed the events, when source is system-federation (never echoed back to it). */
  sourcePeer?: string | null;
}

export interface RejectedEvent {
  event_id: string;
  code: 'EVENT_ID_CONFLICT';
  message: string;
}

export interface IngestResult {
  accepted: string[];
  duplicates: string[];
  rejected: RejectedEvent[];
  lastNodeSeq: number | null;
  projectionFailures: { event_id: string; type: string; error: string }[];
  conflictsAudited: number;
  /** Distinct stores that received new events (the relay is nudged for them). */
  stores: string[];
}

interface Prepared {
  event: SyncEvent;
  id: string;
  hash: string;
  createdAt: Date;
  originNode: string;
}

const RACE = 'VELOX_RACE';
const RETRYABLE = new Set(['40P01', '40001', RACE]); // deadlock, serialization failure, insert race
/** Advisory lock key that orders appends to the log ('velo' in ASCII). */
export const FEED_LOCK = 0x76656c6f;
const MAX_ATTEMPTS = 4;

/**
 * Appends a batch of validated events to the log and projects them, all in one transaction:
 * dedupe by event id and payload hash, update the anti-entropy digests of the touched hour buckets,
 * project set-wise (falling back to one savepoint per event if the batch fails), then append the
 * events in commit order. A projection failure keeps the event (projection_status = 'failed') for
 * the orphan healer.
 */
export async function ingestEvents(
  db: Db,
  events: SyncEvent[],
  opts: IngestOptions,
  log: Log,
): Promise<IngestResult> {
  const result: IngestResult = {
    accepted: [],
    duplicates: [],
    rejected: [],
    lastNodeSeq: null,
    projectionFailures: [],
    conflictsAudited: 0,
    stores: [],
  };

  // Same id twice in one request: the first copy stands for both.
  const unique: Prepared[] = [];
  const seen = new Map<string, Prepared>();
  for (const event of events) {
    const id = event.event_id.toLowerCase();
    const hash = hashPayload(event.payload);
    const first = seen.get(id);
    if (first) {
      if (first.hash === hash) result.duplicates.push(event.event_id);
      else result.rejected.push(conflict(event.event_id));
      continue;
    }
    const prepared: Prepared = {
      event,
      id,
      hash,
      createdAt: new Date(event.created_at),
      originNode: event.origin_node ?? opts.nodeId,
    };
    seen.set(id, prepared);
    unique.push(prepared);
  }
  if (unique.length === 0) return result;

  // First try without savepoints (two statements fewer, and no subtransaction); only if a projection
  // fails is the request redone with a savepoint per batch and, within it, per event.
  let careful = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await db
        .transaction()
        .execute((trx) => ingestInTransaction(trx, unique, opts, log, careful));
      return {
        ...outcome,
        duplicates: [...result.duplicates, ...outcome.duplicates],
        rejected: [...result.rejected, ...outcome.rejected],
      };
    } catch (err) {
      if (err instanceof ProjectionNeedsCare) {
        careful = true;
        attempt -= 1;
        continue;
      }
      const code = (err as { code?: string }).code;
      const retryable = (code !== undefined && RETRYABLE.has(code)) || isStalePlan(err);
      if (!retryable || attempt >= MAX_ATTEMPTS) throw err;
      log.warn(
        { code, attempt },
        'ingest transaction aborted (lock conflict or stale prepared statement); retrying',
      );
    }
  }
}

/** A projection failed in the fast path: redo the request with savepoints to isolate the event. */
class ProjectionNeedsCare extends Error {}

function conflict(eventId: string): RejectedEvent {
  return {
    event_id: eventId,
    code: 'EVENT_ID_CONFLICT',
    message: 'an event with this event_id and a different payload already exists',
  };
}

async function ingestInTransaction(
  trx: Trx,
  batch: Prepared[],
  opts: IngestOptions,
  log: Log,
  careful: boolean,
): Promise<IngestResult> {
  // The projections look up a handful of rows by key in tables that grow all day; with statistics a
  // little stale the planner would hash-join whole tables instead (cost growing with the log). For the
  // rest of this transaction only, prefer index lookups and nested loops (set in this first statement:
  // no extra round trip).
  const existing = await sql<{ event_id: string; full_payload_hash: string }>`
    SELECT event_id, full_payload_hash FROM events
    WHERE event_id = ANY(${batch.map((p) => p.id)}::uuid[])
      AND (SELECT set_config('enable_seqscan', 'off', true) || set_config('enable_hashjoin', 'off', true)
                || set_config('enable_mergejoin', 'off', true)) IS NOT NULL`.execute(trx);
  const hashes = new Map(existing.rows.map((r) => [r.event_id, r.full_payload_hash]));
  const fresh = batch.filter((p) => !hashes.has(p.id));
  const duplicates: string[] = [];
  const rejected: RejectedEvent[] = [];
  for (const p of batch) {
    const hash = hashes.get(p.id);
    if (hash === undefined) continue;
    if (hash === p.hash) duplicates.push(p.event.event_id);
    else rejected.push(conflict(p.event.event_id));
  }
  const accepted = fresh.map((p) => p.event.event_id);
  if (fresh.length === 0) {
    return {
      accepted,
      duplicates,
      rejected,
      lastNodeSeq: null,
      projectionFailures: [],
      conflictsAudited: 0,
      stores: [],
    };
  }

  const projectionEvents: ProjectionEvent[] = fresh.map(
    (p) =>
      ({
        event_id: p.id,
        store_id: p.event.store_id,
        device_id: p.event.device_id,
        type: p.event.type,
        payload: p.event.payload,
        vector_clock: p.event.vector_clock,
        created_at: p.createdAt,
        origin_node: p.originNode,
        actor_user_id: p.event.actor_user_id ?? null,
      }) as ProjectionEvent,
  );
  const sink = newSink();
  let failures: ProjectionFailure[] = [];
  if (careful) {
    failures = await projectWithFallback(trx, projectionEvents, sink, log);
  } else {
    try {
      await projectEvents(trx, projectionEvents, sink);
    } catch (err) {
      if (isTransient(err)) throw err;
      log.warn(
        { err, events: projectionEvents.length },
        'batch projection failed; redoing the request with savepoints',
      );
      throw new ProjectionNeedsCare();
    }
  }
  const failedWith = new Map(failures.map((f) => [f.event_id, f.error]));

  // The log is appended last, under the feed lock held until commit: node_seq is then handed out in
  // commit order, so a reader that has seen node_seq N has seen everything below it, and the change
  // feed and the relay cursor can never step over an event committed late. The store-hour digest
  // rows are hot (every push of a store touches one), so they are updated here too, inside the
  // already serialised tail, and so are the stock deltas of the projections (warehouse_stock rows are
  // shared by every till of a shop). Lock, log, digests and stock go in one statement: one round trip
  // under the lock, and the hot rows are locked only from there to the commit.
  const rows = fresh.map((p) => ({
    event_id: p.id,
    store_id: p.event.store_id,
    device_id: p.event.device_id,
    seq: p.event.seq,
    type: p.event.type,
    vector_clock: p.event.vector_clock,
    payload: p.event.payload,
    full_payload_hash: p.hash,
    delta_payload: p.event.delta_payload ?? null,
    created_at: p.createdAt.toISOString(),
    origin_node: p.originNode,
    actor_user_id: p.event.actor_user_id ?? null,
    projection_status: failedWith.has(p.id) ? 'failed' : 'processed',
    projection_error: failedWith.get(p.id) ?? null,
  }));
  const inserted = await sql<{ node_seq: string }>`
    WITH feed_lock AS (SELECT pg_advisory_xact_lock(${FEED_LOCK}) AS held),
    digests AS (
      INSERT INTO event_digests (store_id, bucket_hour, event_count, digest)
      SELECT store_id, bucket_hour, event_count, ('x' || digest)::bit(256)
      FROM jsonb_to_recordset(${JSON.stringify(digestRows(fresh))}::jsonb) AS d(
        store_id uuid, bucket_hour timestamptz, event_count bigint, digest text)
      WHERE EXISTS (SELECT 1 FROM feed_lock)
      ON CONFLICT (store_id, bucket_hour) DO UPDATE SET
        event_count = event_digests.event_count + excluded.event_count,
        digest = event_digests.digest # excluded.digest
    ), stock AS (${stockUpsertSql(sink.stock, sql`EXISTS (SELECT 1 FROM feed_lock)`)})
    INSERT INTO events (event_id, store_id, device_id, seq, type, vector_clock, payload, full_payload_hash,
      delta_payload, created_at, origin_node, actor_user_id, source, source_peer, projection_status,
      projection_error, projection_attempts)
    SELECT event_id, store_id, device_id, seq, type, vector_clock, payload, full_payload_hash, delta_payload,
      created_at, origin_node, actor_user_id, ${opts.source}, ${opts.sourcePeer ?? null}, projection_status,
      projection_error, 1
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
      event_id uuid, store_id uuid, device_id text, seq bigint, type text, vector_clock jsonb, payload jsonb,
      full_payload_hash text, delta_payload jsonb, created_at timestamptz, origin_node text, actor_user_id text,
      projection_status text, projection_error text)
    WHERE EXISTS (SELECT 1 FROM feed_lock)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING node_seq`.execute(trx);
  if (inserted.rows.length !== fresh.length) {
    // Another request committed one of these events while we projected it: start over, and this
    // time it is a duplicate (the retry loop treats this like a serialization failure).
    throw Object.assign(new Error('concurrent insert of the same event'), { code: RACE });
  }

  await pruneStock(trx, sink.prune);
  const conflictsAudited = await writeConflictAudit(trx, sink.conflicts, log);
  const typeOf = new Map(fresh.map((p) => [p.id, p.event.type]));
  return {
    accepted,
    duplicates,
    rejected,
    lastNodeSeq: Math.max(...inserted.rows.map((r) => Number(r.node_seq))),
    projectionFailures: failures.map((f) => ({ ...f, type: typeOf.get(f.event_id) ?? 'unknown' })),
    conflictsAudited,
    stores: [...new Set(fresh.map((p) => p.event.store_id))],
  };
}

/** Hour bucket of a timestamp, UTC, as ISO. */
export function bucketHour(d: Date): string {
  const b = new Date(d.getTime());
  b.setUTCMinutes(0, 0, 0);
  return b.toISOString();
}

/** The new events folded into their (store, hour) digests: count and XOR, order-independent. */
function digestRows(fresh: Prepared[]) {
  const buckets = new Map<
    string,
    { store_id: string; bucket_hour: string; event_count: number; digest: Buffer }
  >();
  for (const p of fresh) {
    const hour = bucketHour(p.createdAt);
    const key = `${p.event.store_id}|${hour}`;
    let b = buckets.get(key);
    if (!b)
      buckets.set(
        key,
        (b = { store_id: p.event.store_id, bucket_hour: hour, event_count: 0, digest: Buffer.alloc(32) }),
      );
    b.event_count++;
    xorInto(b.digest, eventDigest(p.id, p.hash));
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, b]) => ({ ...b, digest: b.digest.toString('hex') }));
}
