import { chunk } from '../chunk';
import type { EventType } from '../events/schemas';
import type { TrafficCounter } from '../wire/peer-protocol';
import { MAX_BUCKETS_PER_REQUEST, MAX_DAYS_PER_REQUEST, type Bucket, type Leaf } from './digest-tree';

// Anti-entropy between two event logs, as pure logic over two digest trees (this node's and a
// peer's): which buckets differ, how deep to descend, which events each side lacks. No database and
// no HTTP here, so it is unit-tested with in-memory trees and can be imported by workflows.

/** One side's view of a store's digest tree (this node's database, or a peer over HTTP). */
export interface DigestSource {
  root(): Promise<{ count: number; digest: string }>;
  days(): Promise<Bucket[]>;
  /** Hours of these days. */
  hours(days: string[]): Promise<Bucket[]>;
  /** Children of hour or prefix buckets, by the next hex digit of the event id. */
  split(parents: string[]): Promise<Bucket[]>;
  /** Ids and payload hashes of the events in hour or prefix buckets. */
  leaves(keys: string[]): Promise<Leaf[]>;
}

export interface WalkOptions {
  /** A differing bucket holding more events than this on both sides is split instead of listed. */
  leafSize: number;
  /** Stop once this many differing ids are found; the caller repairs them and walks again. */
  maxIds: number;
  daysPerRequest: number;
  keysPerRequest: number;
  /** Listing requests are grouped so that one response carries about this many events at most. */
  eventsPerListing: number;
  /** Deepest id prefix (hex digits) the walk splits a bucket to (at most the tree's MAX_PREFIX). */
  maxSplitDepth: number;
}

export const DEFAULT_WALK: WalkOptions = {
  leafSize: 64,
  maxIds: 5000,
  daysPerRequest: MAX_DAYS_PER_REQUEST,
  keysPerRequest: MAX_BUCKETS_PER_REQUEST,
  eventsPerListing: 5000,
  maxSplitDepth: 4,
};

export interface LogDiff {
  /** The roots matched: nothing else was asked. */
  inSync: boolean;
  /** On the peer, not here: to pull. */
  missingHere: string[];
  /** Here, not on the peer: to push. */
  missingThere: string[];
  /** The same event id with different payload hashes on the two sides: never overwritten. */
  conflicts: string[];
  /** maxIds was reached: repair what was found, then walk again. */
  truncated: boolean;
}

/** A bucket that differs, with each side's count (0 = the side does not have it). */
export interface DifferingBucket {
  key: string;
  local: number;
  remote: number;
}

/** Shortest digest prefix two digests are compared on (peers send WIRE_DIGEST_HEX below the root). */
const MIN_COMPARED_HEX = 16;

/** Digests are equal on their common prefix (one side may send a shortened one). */
export function sameDigest(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  return n >= MIN_COMPARED_HEX && a.slice(0, n) === b.slice(0, n);
}

/** Keys whose count or digest differ, including buckets only one side has; in key order. */
export function differingBuckets(local: Bucket[], remote: Bucket[]): DifferingBucket[] {
  const theirs = new Map(remote.map((b) => [b.key, b]));
  const out: DifferingBucket[] = [];
  for (const mine of local) {
    const other = theirs.get(mine.key);
    theirs.delete(mine.key);
    if (!other) out.push({ key: mine.key, local: mine.count, remote: 0 });
    else if (other.count !== mine.count || !sameDigest(other.digest, mine.digest)) {
      out.push({ key: mine.key, local: mine.count, remote: other.count });
    }
  }
  for (const other of theirs.values()) out.push({ key: other.key, local: 0, remote: other.count });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Events one side lacks, and ids both sides hold with different payloads (each list sorted). */
export function diffLeaves(
  local: Leaf[],
  remote: Leaf[],
): Pick<LogDiff, 'missingHere' | 'missingThere' | 'conflicts'> {
  const mine = new Map(local);
  const missingHere: string[] = [];
  const conflicts: string[] = [];
  for (const [id, hash] of remote) {
    const own = mine.get(id);
    if (own === undefined) missingHere.push(id);
    else if (!sameDigest(own, hash)) conflicts.push(id);
    mine.delete(id);
  }
  return {
    missingHere: missingHere.sort(),
    missingThere: [...mine.keys()].sort(),
    conflicts: conflicts.sort(),
  };
}

/** Hex digits of id prefix in a bucket key (`…T13/a7` → 2; an hour → 0). */
export function prefixLength(key: string): number {
  const slash = key.indexOf('/');
  return slash < 0 ? 0 : key.length - slash - 1;
}

function shouldSplit(b: DifferingBucket, o: WalkOptions): boolean {
  if (prefixLength(b.key) >= o.maxSplitDepth) return false;
  const most = Math.max(b.local, b.remote);
  // A bucket only one side has is listed whole (every id in it differs), unless it is too big to list.
  return most > o.eventsPerListing || (b.local > 0 && b.remote > 0 && most > o.leafSize);
}

/** Groups buckets to list so that one request carries at most `keys` buckets and about `events` events. */
function listingGroups(buckets: DifferingBucket[], o: WalkOptions): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let events = 0;
  for (const b of buckets) {
    const n = Math.max(b.local, b.remote);
    if (current.length > 0 && (current.length >= o.keysPerRequest || events + n > o.eventsPerListing)) {
      groups.push(current);
      current = [];
      events = 0;
    }
    current.push(b.key);
    events += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Compares two logs root → days → hours → id-prefix buckets and lists event ids only inside
 * buckets that differ. Each level is one request per batch of buckets, so the cost follows the
 * number of differing buckets, not the size of the log; equal logs cost one request (the roots).
 */
export async function walkDiff(
  local: DigestSource,
  remote: DigestSource,
  options: Partial<WalkOptions> = {},
): Promise<LogDiff> {
  const o = { ...DEFAULT_WALK, ...options };
  const [localRoot, remoteRoot] = await Promise.all([local.root(), remote.root()]);
  const diff: LogDiff = { inSync: false, missingHere: [], missingThere: [], conflicts: [], truncated: false };
  if (localRoot.count === remoteRoot.count && sameDigest(localRoot.digest, remoteRoot.digest)) {
    return { ...diff, inSync: true };
  }
  const found = () => diff.missingHere.length + diff.missingThere.length;

  const [localDays, remoteDays] = await Promise.all([local.days(), remote.days()]);
  const days = differingBuckets(localDays, remoteDays).map((d) => d.key);

  walk: for (const dayBatch of chunk(days, o.daysPerRequest)) {
    const [lh, rh] = await Promise.all([local.hours(dayBatch), remote.hours(dayBatch)]);
    let frontier = differingBuckets(lh, rh);
    while (frontier.length > 0) {
      const toSplit = frontier.filter((b) => shouldSplit(b, o));
      const toList = frontier.filter((b) => !shouldSplit(b, o));
      for (const group of listingGroups(toList, o)) {
        const [ll, rl] = await Promise.all([local.leaves(group), remote.leaves(group)]);
        const d = diffLeaves(ll, rl);
        diff.missingHere.push(...d.missingHere);
        diff.missingThere.push(...d.missingThere);
        diff.conflicts.push(...d.conflicts);
        if (found() >= o.maxIds) {
          diff.truncated = true;
          break walk;
        }
      }
      const next: DifferingBucket[] = [];
      for (const parents of chunk(
        toSplit.map((b) => b.key),
        o.keysPerRequest,
      )) {
        const [ls, rs] = await Promise.all([local.split(parents), remote.split(parents)]);
        next.push(...differingBuckets(ls, rs));
      }
      frontier = next;
    }
  }
  diff.missingHere.sort();
  diff.missingThere.sort();
  if (diff.truncated) {
    // Keep the lists (and the activity result carrying them) bounded; the rest is found next round.
    diff.missingHere = diff.missingHere.slice(0, o.maxIds);
    diff.missingThere = diff.missingThere.slice(0, Math.max(0, o.maxIds - diff.missingHere.length));
  }
  diff.conflicts = [...new Set(diff.conflicts)].sort();
  return diff;
}

// ---------------------------------------------------------------------------------------------
// Results: per entity, what each side lacked and what was replayed, plus traffic and conflicts
// (the shape POST /sync/federation/auto-reconcile answers, docs/api.md).

export const ENTITIES = [
  'sales',
  'debts',
  'debtPayments',
  'sessions',
  'stock',
  'products',
  'customers',
  'other',
] as const;
export type Entity = (typeof ENTITIES)[number];

// Node-made events (escrow) are left out: they count under `other`.
const ENTITY_OF: Partial<Record<EventType, Entity>> = {
  SaleCreated: 'sales',
  SaleVoided: 'sales',
  DebtCreated: 'debts',
  DebtPaymentRecorded: 'debtPayments',
  DebtPaymentAdded: 'debtPayments',
  CashSessionOpened: 'sessions',
  CashSessionClosed: 'sessions',
  CashLedgerEntryCreated: 'sessions',
  StockReceived: 'stock',
  StockAdjusted: 'stock',
  StockDeltaApplied: 'stock',
  ProductCreated: 'products',
  ProductUpdated: 'products',
  CustomerCreated: 'customers',
  CustomerUpdated: 'customers',
  FiscalSeriesDeclared: 'other',
  FiscalBlockGranted: 'other',
  FiscalRangeGranted: 'other',
  FiscalRangeClosed: 'other',
};

/** The result entity an event type counts under (node-made and unknown types: `other`). */
export function entityOf(type: string): Entity {
  return (ENTITY_OF as Record<string, Entity | undefined>)[type] ?? 'other';
}

/** Events per entity. */
export type EntityTally = Partial<Record<Entity, number>>;

export function tallyTypes(types: Iterable<string>): EntityTally {
  const t: EntityTally = {};
  for (const type of types) {
    const e = entityOf(type);
    t[e] = (t[e] ?? 0) + 1;
  }
  return t;
}

export interface EntityReconcile {
  /** Events this node holds that the peer lacked. */
  remoteMissingCount: number;
  /** Events the peer holds that this node lacked. */
  localMissingCount: number;
  /** Of remoteMissingCount: now held by the peer (accepted, or already there by the time they arrived). */
  replayedToRemote: number;
  /** Of localMissingCount: now held here. */
  replayedToLocal: number;
}

export type ReconcileResult = Record<Entity, EntityReconcile> & {
  /** HTTP requests to the peer. */
  roundTrips: number;
  /** Request and response bodies (and URL paths) exchanged with the peer, in bytes. */
  bytes: number;
  /** Event ids whose payload differs between the two nodes (never overwritten; see the runbook). */
  conflicts: string[];
};

export type CountField = keyof EntityReconcile;

export function emptyResult(): ReconcileResult {
  const r = { roundTrips: 0, bytes: 0, conflicts: [] as string[] } as ReconcileResult;
  for (const e of ENTITIES) {
    r[e] = { remoteMissingCount: 0, localMissingCount: 0, replayedToRemote: 0, replayedToLocal: 0 };
  }
  return r;
}

/** Adds a tally to one counter of every entity (in place). */
export function addTally(result: ReconcileResult, field: CountField, tally: EntityTally): void {
  for (const e of ENTITIES) result[e][field] += tally[e] ?? 0;
}

/** Ids are kept once, sorted, and at most this many (the count of differing events is in the log). */
export const MAX_CONFLICTS_LISTED = 1000;

export function addConflicts(result: ReconcileResult, ids: string[]): void {
  if (ids.length === 0) return;
  result.conflicts = [...new Set([...result.conflicts, ...ids])].sort().slice(0, MAX_CONFLICTS_LISTED);
}

export function addTraffic(result: ReconcileResult, t: TrafficCounter): void {
  result.roundTrips += t.requests;
  result.bytes += t.bytesSent + t.bytesReceived;
}

/** Several results added up (a store reconciled with several peers). */
export function sumResults(results: ReconcileResult[]): ReconcileResult {
  const total = emptyResult();
  for (const r of results) {
    for (const e of ENTITIES) {
      for (const f of Object.keys(total[e]) as CountField[]) total[e][f] += r[e][f];
    }
    total.roundTrips += r.roundTrips;
    total.bytes += r.bytes;
    addConflicts(total, r.conflicts);
  }
  return total;
}

/** Whether a result found anything to repair or report. */
export function foundDivergence(r: ReconcileResult): boolean {
  return (
    r.conflicts.length > 0 || ENTITIES.some((e) => r[e].localMissingCount > 0 || r[e].remoteMissingCount > 0)
  );
}
