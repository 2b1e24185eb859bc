import { sql } from 'kysely';
import type { Log } from '../log';
import { isStalePlan, type Db } from '../db';
import type { EventSource } from '../db/schema';
import { boundedStamp } from '../../domain/crdt/hlc';
import { eventDigest, hashPayload, xorInto } from '../../domain/events/hash';
import {
  appendEventsSql,
  lookupBatch,
  type ClockEntry,
  type EventInsertRow,
  type KnownEvent,
} from '../repositories/events';
import { upsertDigestsSql, type DigestDelta } from '../repositories/event-digests';
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
  type ExhaustedRange,
  type Oversold,
  type ProjectionEvent,
  type ProjectionFailure,
  type ProjectionSink,
} from '../projections';
import type { Trx } from '../projections/types';
import { alertOversold, intakeSales } from '../projections/sale-intake';
import { nodeEvents } from './node-events';

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
  /** Device ranges whose last number these events used (their workflows are told after the commit). */
  fiscalExhausted: ExhaustedRange[];
  /** Stock the push's sales took below zero (alerted after the commit; infra/projections/sale-intake.ts). */
  oversold: Oversold[];
}

/** One push: its events (decoded) and who handed them over. */
export interface PushInput {
  events: SyncEvent[];
  opts: IngestOptions;
}

interface Prepared {
  event: SyncEvent;
  /** Which push of the transaction it came in, and its position there. */
  push: number;
  index: number;
  /** Its position in the whole transaction (keys the causal floors of the first lookup). */
  pos: number;
  opts: IngestOptions;
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

const emptyResult = (): IngestResult => ({
  accepted: [],
  duplicates: [],
  rejected: [],
  lastNodeSeq: null,
  projectionFailures: [],
  conflictsAudited: 0,
  stores: [],
  fiscalExhausted: [],
  oversold: [],
});

/**
 * Appends a batch of validated events to the log and projects them, all in one transaction:
 * dedupe by event id and payload hash, update the anti-entropy digests of the touched hour buckets,
 * project set-wise (falling back to one savepoint per event if the batch fails), then append the
 * events in commit order. A projection failure keeps the event (projection_status = 'failed') for
 * the orphan healer. Sales that took stock below zero are alerted after the commit.
 */
export async function ingestEvents(
  db: Db,
  events: SyncEvent[],
  opts: IngestOptions,
  log: Log,
): Promise<IngestResult> {
  const result = (await ingestPushes(db, [{ events, opts }], log))[0]!;
  // The pushes of the API (infra/eventlog/push.ts) do this after the group commit instead.
  if (result.oversold.length > 0) await alertOversold(db, result.oversold, log);
  return result;
}

/**
 * Several pushes in one transaction (infra/eventlog/coalescer.ts gathers the pushes that arrive while
 * another transaction is under way): one set of statements and one commit for all of them, and a
 * result per push, as if each had been ingested alone in the order given.
 */
export async function ingestPushes(db: Db, pushes: PushInput[], log: Log): Promise<IngestResult[]> {
  const results = pushes.map(emptyResult);
  // Same id twice in one transaction: the first copy stands for both, if it is the same event.
  const unique: Prepared[] = [];
  const seen = new Map<string, Prepared>();
  pushes.forEach(({ events, opts }, push) => {
    events.forEach((event, index) => {
      const prepared = prepare(event, push, index, unique.length, opts);
      const id = prepared.id;
      const first = seen.get(id);
      if (first) {
        if (sameEvent(first, identityOf(prepared))) results[push]!.duplicates.push(event.event_id);
        else results[push]!.rejected.push(conflict(index, event.event_id));
        return;
      }
      seen.set(id, prepared);
      unique.push(prepared);
    });
  });
  if (unique.length === 0) return results;

  // First try without savepoints (two statements fewer, and no subtransaction); only if a projection
  // fails is the request redone with a savepoint per batch and, within it, per event.
  let careful = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await db.transaction().execute((trx) => ingestBatch(trx, unique, log, careful));
      return results.map((r, push) => {
        const o = outcome[push] ?? emptyResult();
        return {
          ...o,
          duplicates: [...r.duplicates, ...o.duplicates],
          rejected: [...r.rejected, ...o.rejected],
        };
      });
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

function prepare(event: SyncEvent, push: number, index: number, pos: number, opts: IngestOptions): Prepared {
  return {
    event,
    push,
    index,
    pos,
    opts,
    id: event.event_id.toLowerCase(),
    hash: hashPayload(event.payload),
    createdAt: new Date(event.created_at),
    originNode: event.origin_node ?? opts.nodeId,
  };
}

/**
 * Appends events a node made (fiscal ranges, say) inside the caller's transaction, so they commit
 * with the decision they record: the same stamping, projection and log append as a push. Projection
 * failures are isolated per event (savepoints). The caller retries its transaction on lock conflicts.
 */
export async function ingestInTransaction(
  trx: Trx,
  events: SyncEvent[],
  opts: IngestOptions,
  log: Log,
): Promise<IngestResult> {
  const seen = new Set<string>();
  const batch = events
    .map((e, i) => prepare(e, 0, i, i, opts))
    .filter((p) => !seen.has(p.id) && seen.add(p.id));
  if (batch.length === 0) return emptyResult();
  const result = (await ingestBatch(trx, batch, log, true))[0] ?? emptyResult();
  // A decision whose event did not project would be invisible to the next decision: fail it whole.
  if (result.projectionFailures.length > 0) {
    throw new Error(`node event not projected: ${result.projectionFailures[0]!.error}`);
  }
  return result;
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

/** Events relayed by a peer keep the stamp their origin gave them; the others are stamped here. */
const stampedHere = (p: Prepared) => !(p.opts.source === 'system-federation' && p.event.hlc);

async function ingestBatch(trx: Trx, batch: Prepared[], log: Log, careful: boolean): Promise<IngestResult[]> {
  const pushes = Math.max(...batch.map((p) => p.push)) + 1;
  const out = Array.from({ length: pushes }, emptyResult);
  // The causal floors: one probe per distinct (store, device, seq) the batch's clocks name (a batch
  // from one device repeats the others' entries in every event), then the largest per event.
  const entryIndex = new Map<string, number>();
  const entries: ClockEntry[] = [];
  const entriesOf = new Map<number, number[]>();
  for (const p of batch.filter(stampedHere)) {
    const mine: number[] = [];
    for (const [device_id, seq] of Object.entries(p.event.vector_clock)) {
      const key = `${p.event.store_id}|${device_id}|${seq}`;
      let i = entryIndex.get(key);
      if (i === undefined) {
        i = entries.length;
        entryIndex.set(key, i);
        entries.push({ i, store_id: p.event.store_id, device_id, seq });
      }
      mine.push(i);
    }
    entriesOf.set(p.pos, mine);
  }
  const { known, floors: entryFloors } = await lookupBatch(
    trx,
    batch.map((p) => p.id),
    entries,
  );
  const floors = new Map<number, Date>();
  for (const [pos, mine] of entriesOf) {
    let floor: Date | undefined;
    for (const i of mine) {
      const f = entryFloors.get(i);
      if (f && (!floor || f > floor)) floor = f;
    }
    if (floor) floors.set(pos, floor);
  }
  const knownById = new Map(known.map((k) => [k.event_id, k]));
  const fresh = batch.filter((p) => !knownById.has(p.id));
  for (const p of batch) {
    const k = knownById.get(p.id);
    if (k === undefined) continue;
    if (sameEvent(p, k)) out[p.push]!.duplicates.push(p.event.event_id);
    else out[p.push]!.rejected.push(conflict(p.index, p.event.event_id));
  }
  if (fresh.length === 0) return out;

  const sink = newSink();
  const hlcOf = stampEvents(fresh, floors, sink);
  const projectionEvents = fresh.map((p) => projectionEventOf(p, hlcOf.get(p.id)!));
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
  const made = await saleIntake(trx, fresh, projectionEvents, failedWith, sink, log, careful);
  for (const [id, hlc] of stampEvents(made, new Map(), sink)) hlcOf.set(id, hlc);
  await projectEvents(
    trx,
    made.map((p) => projectionEventOf(p, hlcOf.get(p.id)!)),
    sink,
  );
  const appended = [...fresh, ...made];

  // The log is appended last, under the feed lock held until commit: node_seq is then handed out in
  // commit order, so a reader that has seen node_seq N has seen everything below it, and the change
  // feed and the relay cursor can never step over an event committed late. The store-hour digest
  // rows are hot (every push of a store touches one), so they are updated here too, inside the
  // already serialised tail, and so are the stock deltas of the projections (warehouse_stock rows are
  // shared by every till of a shop). Lock, log, digests and stock go in one statement: one round trip
  // under the lock, and the hot rows are locked only from there to the commit.
  const rows: EventInsertRow[] = appended.map((p) => ({
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
    source: p.opts.source,
    source_peer: p.opts.sourcePeer ?? null,
    projection_status: failedWith.has(p.id) ? 'failed' : 'processed',
    projection_error: failedWith.get(p.id) ?? null,
  }));
  const inserted = await sql<{ event_id: string; node_seq: string }>`
    WITH feed_lock AS (SELECT pg_advisory_xact_lock(${FEED_LOCK}) AS held),
    digests AS (${upsertDigestsSql(digestRows(appended), sql`EXISTS (SELECT 1 FROM feed_lock)`)}),
    stock AS (${stockUpsertSql(sink.stock, sql`EXISTS (SELECT 1 FROM feed_lock)`)})
    ${appendEventsSql(rows, sql`EXISTS (SELECT 1 FROM feed_lock)`)}`.execute(trx);
  if (inserted.rows.length !== appended.length) {
    // Another request committed one of these events while we projected it: start over, and this
    // time it is a duplicate (the retry loop treats this like a serialization failure).
    throw Object.assign(new Error('concurrent insert of the same event'), { code: RACE });
  }

  await pruneStock(trx, sink.prune);
  // Told by whichever push of the transaction commits them (each range once).
  out[0]!.oversold = sink.oversold;
  out[0]!.fiscalExhausted = [
    ...new Map(sink.fiscalExhausted.map((r) => [`${r.store_id}:${r.range_id}`, r])).values(),
  ];
  const conflictsAudited = await writeConflictAudit(trx, sink.conflicts, log);
  const seqOf = new Map(inserted.rows.map((r) => [r.event_id, Number(r.node_seq)]));
  const pushOf = new Map(fresh.map((p) => [p.id, p]));
  for (const p of fresh) {
    const r = out[p.push]!;
    r.accepted.push(p.event.event_id);
    r.lastNodeSeq = Math.max(r.lastNodeSeq ?? 0, seqOf.get(p.id)!);
    if (!r.stores.includes(p.event.store_id)) r.stores.push(p.event.store_id);
  }
  for (const f of failures) {
    const p = pushOf.get(f.event_id)!;
    out[p.push]!.projectionFailures.push({ ...f, type: p.event.type });
  }
  // Counted for the push whose event the audit row is about (metrics only).
  if (conflictsAudited > 0) {
    for (const c of sink.conflicts) {
      const p =
        pushOf.get(c.winner_event_id) ?? (c.loser_event_id ? pushOf.get(c.loser_event_id) : undefined);
      out[p?.push ?? 0]!.conflictsAudited += 1;
    }
  }
  return out;
}

function projectionEventOf(p: Prepared, hlc: Date): ProjectionEvent {
  return {
    event_id: p.id,
    store_id: p.event.store_id,
    device_id: p.event.device_id,
    type: p.event.type,
    payload: p.event.payload,
    vector_clock: p.event.vector_clock,
    created_at: p.createdAt,
    hlc,
    origin_node: p.originNode,
    actor_user_id: p.event.actor_user_id ?? null,
  } as ProjectionEvent;
}

/**
 * After the projections: the new sales consume the quotas this node granted to their devices, and
 * the ones that did not come from a peer go through the soft stock check (infra/projections/
 * sale-intake.ts). Returns the events this makes (EscrowConsumed), to be projected and appended
 * with the batch; they belong to no push's answer. In the fast path an error goes up (the request
 * is redone carefully); in the careful path it is logged and the sales stay, unconsumed: a sale is
 * never lost or refused.
 */
async function saleIntake(
  trx: Trx,
  fresh: Prepared[],
  projected: ProjectionEvent[],
  failed: Map<string, string>,
  sink: ProjectionSink,
  log: Log,
  careful: boolean,
): Promise<Prepared[]> {
  const sales = projected.filter(
    (e): e is ProjectionEvent<'SaleCreated'> => e.type === 'SaleCreated' && !failed.has(e.event_id),
  );
  if (sales.length === 0) return [];
  const opts = fresh[0]!.opts;
  const fromPeer = new Set(fresh.filter((p) => p.opts.source === 'system-federation').map((p) => p.id));
  const run = async () => {
    const checked = sales.filter((e) => !fromPeer.has(e.event_id));
    const drafts = await intakeSales(trx, opts.nodeId, sales, checked, sink);
    return nodeEvents(trx, opts.nodeId, drafts);
  };
  let made: SyncEvent[];
  if (!careful) {
    try {
      made = await run();
    } catch (err) {
      if (isTransient(err)) throw err;
      log.warn({ err }, 'sale intake (escrow, stock check) failed; redoing the request with savepoints');
      throw new ProjectionNeedsCare();
    }
  } else {
    await sql`SAVEPOINT sale_intake`.execute(trx);
    try {
      made = await run();
      await sql`RELEASE SAVEPOINT sale_intake`.execute(trx);
    } catch (err) {
      await sql`ROLLBACK TO SAVEPOINT sale_intake`.execute(trx);
      if (isTransient(err)) throw err;
      log.error({ err }, 'sale intake (escrow, stock check) failed; the sales are kept unconsumed');
      return [];
    }
  }
  const nodeOpts: IngestOptions = { nodeId: opts.nodeId, source: 'admin', maxSkewMs: opts.maxSkewMs };
  return made.map((event, i) => ({
    event,
    push: -1,
    index: -1,
    pos: -1 - i,
    opts: nodeOpts,
    id: event.event_id,
    hash: hashPayload(event.payload),
    createdAt: new Date(event.created_at),
    originNode: opts.nodeId,
  }));
}

/**
 * Gives each new event its ordering stamp (domain/crdt/hlc.ts). Events relayed by a peer keep the stamp
 * their origin node gave them; the others are stamped here: bounded by this node's clock, and after
 * every event their vector clock covers, in the log (`floors`) or earlier in this batch. A clamped
 * device clock is recorded in the conflict audit.
 */
function causalOrder(events: Prepared[]): Prepared[] {
  const weight = new Map<Prepared, number>();
  for (const p of events) {
    let sum = 0;
    for (const seq of Object.values(p.event.vector_clock)) sum += seq;
    weight.set(p, sum);
  }
  return [...events].sort((a, b) => weight.get(a)! - weight.get(b)!);
}

function stampEvents(fresh: Prepared[], floors: Map<number, Date>, sink: ProjectionSink): Map<string, Date> {
  const now = new Date();
  const out = new Map<string, Date>();
  // Per device, the stamps given earlier in this batch, and their largest seq and stamp: a clock entry
  // that has seen all of them (the usual case) takes the largest without a scan.
  const byDevice = new Map<string, { stamps: { seq: number; hlc: Date }[]; maxSeq: number; maxHlc: Date }>();
  // Stamped in causal order, whatever the order of the batch: a clock that covers another has a larger
  // sum, so sorting by the sum puts every event after those it has seen (the stamps then do not depend
  // on how a sender ordered its batch).
  for (const p of causalOrder(fresh)) {
    const e = p.event;
    let hlc: Date;
    const maxSkewMs = p.opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!stampedHere(p)) {
      hlc = new Date(e.hlc!);
    } else {
      let floor = floors.get(p.pos) ?? null;
      for (const [device, seen] of Object.entries(e.vector_clock)) {
        const earlier = byDevice.get(`${e.store_id}:${device}`);
        if (!earlier) continue;
        if (seen >= earlier.maxSeq) {
          if (!floor || earlier.maxHlc > floor) floor = earlier.maxHlc;
          continue;
        }
        for (const s of earlier.stamps) {
          if (s.seq <= seen && (!floor || s.hlc > floor)) floor = s.hlc;
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
            reason: `device clock ahead of node ${p.opts.nodeId} by more than ${maxSkewMs} ms`,
            created_at: p.createdAt.toISOString(),
            hlc: hlc.toISOString(),
            node_clock: now.toISOString(),
          },
        });
      }
    }
    out.set(p.id, hlc);
    const key = `${e.store_id}:${e.device_id}`;
    const mine = byDevice.get(key);
    if (!mine) {
      byDevice.set(key, { stamps: [{ seq: e.seq, hlc }], maxSeq: e.seq, maxHlc: hlc });
    } else {
      mine.stamps.push({ seq: e.seq, hlc });
      mine.maxSeq = Math.max(mine.maxSeq, e.seq);
      if (hlc > mine.maxHlc) mine.maxHlc = hlc;
    }
  }
  return out;
}

/** The new events folded into their (store, hour) digests: count and XOR, order-independent. */
function digestRows(fresh: Prepared[]): DigestDelta[] {
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
