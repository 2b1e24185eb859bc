import { sql } from 'kysely';
import type { Log } from '../log';
import { isStalePlan, type Db } from '../db';
import type { EventSource } from '../db/schema';
import { boundedStamp } from '../../domain/crdt/hlc';
import { eventDigest, hashPayload, xorInto } from '../../domain/events/hash';
import { appendEventsSql, lookupBatch, type EventInsertRow, type KnownEvent } from '../repositories/events';
import type { SyncEvent } from '../../domain/events/schemas';
import { Rejection } from '../../domain/errors';
import { hourStartOf } from '../../domain/reconcile/digest-tree';
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
  type ProjectionSink,
} from '../projections';
import type { Trx } from '../projections/types';

export interface IngestOptions {
  /** This node's id: stamped as origin_node on events that enter the federation here. */
  nodeId: string;
  source: EventSource;
  /** The peer that relayed the events, when source is system-federation (never echoed back to it). */
  sourcePeer?: string | null;
  /** How far ahead of this node's clock an ordering stamp may run (HLC_MAX_SKEW_MS). */
  maxSkewMs?: number;
}

/** An event of the batch refused by the log itself (the decoder refuses malformed ones earlier). */
export interface RejectedEvent {
  /** Position in the batch given to ingestEvents. */
  index: number;
  event_id: string;
  code: typeof Rejection.eventIdConflict;
  message: string;
}

const DEFAULT_MAX_SKEW_MS = 5 * 60_000;

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
  index: number;
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

  // Same id twice in one request: the first copy stands for both, if it is the same event.
  const unique: Prepared[] = [];
  const seen = new Map<string, Prepared>();
  events.forEach((event, index) => {
    const id = event.event_id.toLowerCase();
    const prepared: Prepared = {
      event,
      index,
      id,
      hash: hashPayload(event.payload),
      createdAt: new Date(event.created_at),
      originNode: event.origin_node ?? opts.nodeId,
    };
    const first = seen.get(id);
    if (first) {
      if (sameEvent(first, identityOf(prepared))) result.duplicates.push(event.event_id);
      else result.rejected.push(conflict(index, event.event_id));
      return;
    }
    seen.set(id, prepared);
    unique.push(prepared);
  });
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

function conflict(index: number, eventId: string): RejectedEvent {
  return {
    index,
    event_id: eventId,
    code: Rejection.eventIdConflict,
    message:
      'event_id: an event with this event_id and a different envelope (store, device, seq, type, ' +
      'created_at) or payload already exists',
  };
}

/** What makes two events with one event_id the same event: the envelope and the payload. */
function identityOf(p: Prepared): KnownEvent {
  return {
    event_id: p.id,
    store_id: p.event.store_id,
    device_id: p.event.device_id,
    seq: String(p.event.seq),
    type: p.event.type,
    created_at: p.createdAt.toISOString(),
    full_payload_hash: p.hash,
  };
}

function sameEvent(p: Prepared, known: KnownEvent): boolean {
  const mine = identityOf(p);
  return (
    mine.store_id === known.store_id &&
    mine.device_id === known.device_id &&
    mine.seq === known.seq &&
    mine.type === known.type &&
    mine.created_at === known.created_at &&
    mine.full_payload_hash === known.full_payload_hash
  );
}

async function ingestInTransaction(
  trx: Trx,
  batch: Prepared[],
  opts: IngestOptions,
  log: Log,
  careful: boolean,
): Promise<IngestResult> {
  const stamping = batch.filter((p) => !(opts.source === 'system-federation' && p.event.hlc));
  const { known, floors } = await lookupBatch(
    trx,
    batch.map((p) => p.id),
    stamping.flatMap((p) =>
      Object.entries(p.event.vector_clock).map(([device_id, seq]) => ({
        i: p.index,
        store_id: p.event.store_id,
        device_id,
        seq,
      })),
    ),
  );
  const knownById = new Map(known.map((k) => [k.event_id, k]));
  const fresh = batch.filter((p) => !knownById.has(p.id));
  const duplicates: string[] = [];
  const rejected: RejectedEvent[] = [];
  for (const p of batch) {
    const k = knownById.get(p.id);
    if (k === undefined) continue;
    if (sameEvent(p, k)) duplicates.push(p.event.event_id);
    else rejected.push(conflict(p.index, p.event.event_id));
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

  const sink = newSink();
  const hlcOf = stampEvents(fresh, floors, opts, sink);
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
        hlc: hlcOf.get(p.id)!,
        origin_node: p.originNode,
        actor_user_id: p.event.actor_user_id ?? null,
      }) as ProjectionEvent,
  );
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
  const rows: EventInsertRow[] = fresh.map((p) => ({
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
    hlc: hlcOf.get(p.id)!.toISOString(),
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
    ${appendEventsSql(rows, opts.source, opts.sourcePeer ?? null, sql`EXISTS (SELECT 1 FROM feed_lock)`)}`.execute(
    trx,
  );
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

/**
 * Gives each new event its ordering stamp (domain/crdt/hlc.ts). Events relayed by a peer keep the stamp
 * their origin node gave them; the others are stamped here: bounded by this node's clock, and after
 * every event their vector clock covers, in the log (`floors`) or earlier in this batch. A clamped
 * device clock is recorded in the conflict audit.
 */
function stampEvents(
  fresh: Prepared[],
  floors: Map<number, Date>,
  opts: IngestOptions,
  sink: ProjectionSink,
): Map<string, Date> {
  const now = new Date();
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const out = new Map<string, Date>();
  const byDevice = new Map<string, { seq: number; hlc: Date }[]>();
  for (const p of fresh) {
    const e = p.event;
    let hlc: Date;
    if (opts.source === 'system-federation' && e.hlc) {
      hlc = new Date(e.hlc);
    } else {
      let floor = floors.get(p.index) ?? null;
      for (const [device, seen] of Object.entries(e.vector_clock)) {
        for (const earlier of byDevice.get(`${e.store_id}:${device}`) ?? []) {
          if (earlier.seq <= seen && (!floor || earlier.hlc > floor)) floor = earlier.hlc;
        }
      }
      const stamp = boundedStamp(p.createdAt, now, maxSkewMs, floor);
      hlc = stamp.hlc;
      if (stamp.adjusted === 'ahead-of-node-clock') {
        sink.conflicts.push({
          store_id: e.store_id,
          entity_type: 'event',
          entity_id: p.id,
          fields: ['created_at'],
          strategy: 'clock-bounded',
          winner_event_id: p.id,
          loser_event_id: null,
          details: {
            reason: `device clock ahead of node ${opts.nodeId} by more than ${maxSkewMs} ms`,
            created_at: p.createdAt.toISOString(),
            hlc: hlc.toISOString(),
            node_clock: now.toISOString(),
          },
        });
      }
    }
    out.set(p.id, hlc);
    const list = byDevice.get(`${e.store_id}:${e.device_id}`) ?? [];
    list.push({ seq: e.seq, hlc });
    byDevice.set(`${e.store_id}:${e.device_id}`, list);
  }
  return out;
}

/** The new events folded into their (store, hour) digests: count and XOR, order-independent. */
function digestRows(fresh: Prepared[]) {
  const buckets = new Map<
    string,
    { store_id: string; bucket_hour: string; event_count: number; digest: Buffer }
  >();
  for (const p of fresh) {
    const hour = hourStartOf(p.createdAt).toISOString();
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
