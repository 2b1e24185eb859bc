import type { Db } from '../db';
import { ingestEvents } from '../eventlog/ingest';
import { syncEventSchema, type SyncEvent } from '../../domain/events/schemas';
import type { Log } from '../log';
import {
  entityOf,
  tallyTypes,
  walkDiff,
  type DigestSource,
  type EntityTally,
  type LogDiff,
  type WalkOptions,
} from '../../domain/reconcile/digest-walk';
import {
  dayDigests,
  hourDigests,
  listLeaves,
  prefixDigests,
  rootDigest,
} from '../repositories/event-digests';
import { fetchEvents, typesOf } from '../repositories/events';
import { type Bucket, type Leaf } from '../../domain/reconcile/digest-tree';
import { PeerError, toWireEvent, type PeerClient } from '../peers/peer-client';

// One store's reconciliation with one peer, in three idempotent steps that the StoreReconcile
// workflow runs as activities: diff (walk both digest trees), pull (fetch what is missing here and
// ingest it), push (send what is missing there). The peer's side is its /sync/federation routes.

/** Most ids one POST /sync/federation/events/fetch may ask for. */
export const FETCH_MAX_IDS = 1000;
/** Events per push request (a peer accepts PUSH_MAX_EVENTS, 500 by default). */
export const PUSH_BATCH = 200;

export const MERKLE_PATH = '/sync/federation/merkle';
export const EVENTS_PATH = '/sync/federation/events';
export const FETCH_PATH = '/sync/federation/events/fetch';

export type BucketTuple = [key: string, count: number, digest: string];

export interface MerkleResponse {
  store_id: string;
  level: 'root' | 'day' | 'hour' | 'prefix';
  count?: number;
  digest?: string;
  buckets?: BucketTuple[];
}

export interface LeavesResponse {
  store_id: string;
  events: Leaf[];
}

export interface FetchResponse {
  store_id: string;
  events: SyncEvent[];
  missing: string[];
}

const fromTuples = (tuples: BucketTuple[] | undefined): Bucket[] =>
  (tuples ?? []).map(([key, count, digest]) => ({ key, count, digest }));

/** This node's digest tree of a store. */
export function localDigests(db: Db, storeId: string): DigestSource {
  return {
    root: () => rootDigest(db, storeId),
    days: () => dayDigests(db, storeId),
    hours: (days) => hourDigests(db, storeId, days),
    split: (parents) => prefixDigests(db, storeId, parents),
    leaves: (keys) => listLeaves(db, storeId, keys),
  };
}

/** A peer's digest tree of a store, over its /sync/federation routes (each call = one request). */
export function peerDigests(client: PeerClient, storeId: string): DigestSource {
  const merkle = (level: MerkleResponse['level'], extra: Record<string, string> = {}) =>
    client.get<MerkleResponse>(MERKLE_PATH, { store_id: storeId, level, ...extra });
  return {
    async root() {
      const r = await merkle('root');
      return { count: r.count ?? 0, digest: r.digest ?? '' };
    },
    days: async () => fromTuples((await merkle('day')).buckets),
    hours: async (days) => fromTuples((await merkle('hour', { day: days.join(',') })).buckets),
    split: async (parents) => fromTuples((await merkle('prefix', { bucket: parents.join(',') })).buckets),
    leaves: async (keys) =>
      (await client.get<LeavesResponse>(EVENTS_PATH, { store_id: storeId, bucket: keys.join(',') })).events,
  };
}

export interface StoreDiff extends LogDiff {
  /** missingThere by entity (this node knows their types). */
  remoteMissing: EntityTally;
}

/** Walks this node's and the peer's trees of a store; returns what each side lacks. */
export async function diffStore(
  db: Db,
  client: PeerClient,
  storeId: string,
  walk: Partial<WalkOptions> = {},
): Promise<StoreDiff> {
  const diff = await walkDiff(localDigests(db, storeId), peerDigests(client, storeId), walk);
  const types = await typesOf(db, storeId, diff.missingThere);
  return { ...diff, remoteMissing: tallyTypes(types.values()) };
}

export interface PullOutcome {
  /** Asked-for events by entity, as the peer described them (ids it no longer had: `other`). */
  fetched: EntityTally;
  /** Of those, now held here (accepted now, or already here: ingest dedupes). */
  replayed: EntityTally;
  conflicts: string[];
  /** Events the peer returned that this node refuses (malformed, wrong store). */
  refused: { event_id: string; reason: string }[];
}

/**
 * Fetches events from the peer by id and ingests them here as federation events from that peer
 * (so the relay never echoes them back). Safe to repeat: ingest dedupes by id and hash.
 */
export async function pullEvents(
  db: Db,
  client: PeerClient,
  storeId: string,
  eventIds: string[],
  opts: { nodeId: string; log: Log },
): Promise<PullOutcome> {
  const out: PullOutcome = { fetched: {}, replayed: {}, conflicts: [], refused: [] };
  const add = (t: EntityTally, type: string) => {
    const e = entityOf(type);
    t[e] = (t[e] ?? 0) + 1;
  };
  for (let i = 0; i < eventIds.length; i += FETCH_MAX_IDS) {
    const ids = eventIds.slice(i, i + FETCH_MAX_IDS);
    const res = await client.post<FetchResponse>(FETCH_PATH, { store_id: storeId, event_ids: ids });
    for (const _ of res.missing) add(out.fetched, 'unknown');
    const valid: SyncEvent[] = [];
    for (const raw of res.events) {
      const parsed = syncEventSchema.safeParse(raw);
      const type = (raw as { type?: unknown }).type;
      add(out.fetched, typeof type === 'string' ? type : 'unknown');
      const id = String((raw as { event_id?: unknown }).event_id);
      if (!parsed.success) {
        out.refused.push({
          event_id: id,
          reason: parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; '),
        });
      } else if (parsed.data.store_id !== storeId) {
        out.refused.push({ event_id: id, reason: `belongs to store ${parsed.data.store_id}` });
      } else {
        valid.push(parsed.data);
      }
    }
    if (valid.length === 0) continue;
    const result = await ingestEvents(
      db,
      valid,
      { nodeId: opts.nodeId, source: 'system-federation', sourcePeer: client.peer.id },
      opts.log,
    );
    const typeOf = new Map(valid.map((e) => [e.event_id, e.type]));
    for (const id of [...result.accepted, ...result.duplicates])
      add(out.replayed, typeOf.get(id) ?? 'unknown');
    out.conflicts.push(
      ...result.rejected.filter((r) => r.code === 'EVENT_ID_CONFLICT').map((r) => r.event_id),
    );
  }
  for (const r of out.refused)
    opts.log.warn({ event_id: r.event_id, reason: r.reason, peer: client.peer.id }, 'pulled event refused');
  return out;
}

export interface PushOutcome {
  /** Events sent, by entity. */
  sent: EntityTally;
  /** Of those, now held by the peer (accepted, or duplicates it already had). */
  replayed: EntityTally;
  conflicts: string[];
  /** Events the peer refused for good (with its error code). */
  refused: { event_id: string; code: string }[];
}

/**
 * Pushes this node's events to the peer's /sync/push in causal order, a batch at a time. A batch the
 * peer refuses as a whole is split to find the events at fault; transient failures throw (the
 * activity is retried, and the peer dedupes what already arrived).
 */
export async function pushEvents(
  db: Db,
  client: PeerClient,
  storeId: string,
  eventIds: string[],
  opts: { log: Log },
): Promise<PushOutcome> {
  const rows = await fetchEvents(db, storeId, eventIds);
  const out: PushOutcome = {
    sent: tallyTypes(rows.map((r) => r.type)),
    replayed: {},
    conflicts: [],
    refused: [],
  };
  const typeOf = new Map(rows.map((r) => [r.event_id, r.type]));
  const held: string[] = [];

  async function send(batch: typeof rows): Promise<void> {
    try {
      const res = await client.push(storeId, batch.map(toWireEvent));
      held.push(...res.accepted, ...res.duplicates);
      for (const r of res.rejected) {
        if (r.event_id === null) continue;
        if (r.code === 'EVENT_ID_CONFLICT') out.conflicts.push(r.event_id.toLowerCase());
        else out.refused.push({ event_id: r.event_id.toLowerCase(), code: r.code });
      }
    } catch (err) {
      if (!(err instanceof PeerError) || err.transient) throw err;
      if (batch.length === 1) {
        out.refused.push({ event_id: batch[0]!.event_id, code: err.code });
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await send(batch.slice(0, half));
      await send(batch.slice(half));
    }
  }

  for (let i = 0; i < rows.length; i += PUSH_BATCH) await send(rows.slice(i, i + PUSH_BATCH));
  out.replayed = tallyTypes(held.map((id) => typeOf.get(id.toLowerCase()) ?? 'unknown'));
  for (const r of out.refused)
    opts.log.warn(
      { event_id: r.event_id, code: r.code, peer: client.peer.id },
      'peer refused a replayed event',
    );
  return out;
}
