import type { Db } from '../db';
import { ingestEvents } from '../eventlog/ingest';
import { chunk } from '../../domain/chunk';
import { describeIssues, PeerFailure, Rejection } from '../../domain/errors';
import { syncEventSchema, type SyncEvent } from '../../domain/events/schemas';
import type { Log } from '../log';
import type { ExhaustedRange } from '../projections';
import {
  entityOf,
  tallyTypes,
  walkDiff,
  type DigestSource,
  type EntityTally,
  type LogDiff,
  type WalkOptions,
} from '../../domain/reconcile/digest-walk';
import { pushSplitting, type FailureKind } from '../../domain/relay/split-push';
import { FETCH_MAX_IDS, fromTuples } from '../../domain/wire/peer-protocol';
import {
  dayDigests,
  hourDigests,
  listLeaves,
  prefixDigests,
  rootDigest,
} from '../repositories/event-digests';
import { fetchEvents, typesOf, type StoredEvent } from '../repositories/events';
import { PeerError, toWireEvent, type PeerClient } from '../peers/peer-client';

// One store's reconciliation with one peer, in three idempotent steps that the StoreReconcile
// workflow runs as activities: diff (walk both digest trees), pull (fetch what is missing here and
// ingest it), push (send what is missing there). The peer's side is its /sync/federation routes
// (api/routes/federation-sync.ts); both sides speak domain/wire/peer-protocol.ts.

/** Events per push request (a peer accepts PUSH_MAX_EVENTS, 500 by default). */
export const PUSH_BATCH = 200;

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
  return {
    async root() {
      const r = await client.digests(storeId, 'root');
      return { count: r.count ?? 0, digest: r.digest ?? '' };
    },
    days: async () => fromTuples((await client.digests(storeId, 'day')).buckets),
    hours: async (day) => fromTuples((await client.digests(storeId, 'hour', { day })).buckets),
    split: async (bucket) => fromTuples((await client.digests(storeId, 'prefix', { bucket })).buckets),
    leaves: async (keys) => (await client.leaves(storeId, keys)).events,
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
  /** Device ranges whose last number a pulled sale used (their workflows are told by the caller). */
  fiscalExhausted: ExhaustedRange[];
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
  const out: PullOutcome = { fetched: {}, replayed: {}, conflicts: [], refused: [], fiscalExhausted: [] };
  const add = (t: EntityTally, type: string) => {
    const e = entityOf(type);
    t[e] = (t[e] ?? 0) + 1;
  };
  for (const ids of chunk(eventIds, FETCH_MAX_IDS)) {
    const res = await client.fetch(storeId, ids);
    for (const _ of res.missing) add(out.fetched, 'unknown');
    const valid: SyncEvent[] = [];
    for (const raw of res.events) {
      add(out.fetched, raw.type);
      // The wire shape is checked by the client; whether this node can store the event is not.
      const parsed = syncEventSchema.safeParse(raw);
      if (!parsed.success) {
        out.refused.push({ event_id: raw.event_id, reason: describeIssues(parsed.error.issues) });
      } else if (parsed.data.store_id !== storeId) {
        out.refused.push({ event_id: raw.event_id, reason: `belongs to store ${parsed.data.store_id}` });
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
      ...result.rejected.filter((r) => r.code === Rejection.eventIdConflict).map((r) => r.event_id),
    );
    out.fiscalExhausted.push(...result.fiscalExhausted);
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
 * How a reconcile reads a failed push: a 4xx refuses the request as it is (the batch is split to
 * find the events at fault); anything else — unreachable, 5xx, 429, an answer that breaks the
 * contract — is thrown whole (the activity is retried, or fails for good on a non-transient
 * PeerError), never a reason to refuse an event.
 */
function classifyRepairPush(err: unknown): FailureKind {
  const refused = err instanceof PeerError && !err.transient && err.status !== null && err.status >= 400;
  return refused ? 'refused' : 'transient';
}

/**
 * Pushes this node's events to the peer's /sync/push in causal order, a batch at a time. A batch the
 * peer refuses as a whole is split to find the events at fault (domain/relay/split-push.ts, as the
 * relay does); transient failures throw (the activity is retried, and the peer dedupes what already
 * arrived).
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

  async function send(batch: StoredEvent[]): Promise<void> {
    const res = await client.push(storeId, batch.map(toWireEvent));
    held.push(...res.accepted, ...res.duplicates);
    for (const r of res.rejected) {
      if (r.event_id === null) continue;
      if (r.code === Rejection.eventIdConflict) out.conflicts.push(r.event_id.toLowerCase());
      else out.refused.push({ event_id: r.event_id.toLowerCase(), code: r.code });
    }
  }

  const refusals = await pushSplitting(chunk(rows, PUSH_BATCH), {
    send,
    classify: classifyRepairPush,
    retries: 0,
    pause: async () => {},
  });
  for (const { item, error } of refusals) {
    out.refused.push({
      event_id: item.event_id,
      code: error instanceof PeerError ? error.code : PeerFailure.unknown,
    });
  }
  out.replayed = tallyTypes(held.map((id) => typeOf.get(id.toLowerCase()) ?? 'unknown'));
  for (const r of out.refused)
    opts.log.warn(
      { event_id: r.event_id, code: r.code, peer: client.peer.id },
      'peer refused a replayed event',
    );
  return out;
}
