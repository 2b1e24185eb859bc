import { sql } from 'kysely';
import type { Db } from '../db';
import type { EventRow } from '../db/schema';
import { orderCausally } from './priority';
import { WIRE_COLUMNS, type WireEventRow } from './peer-client';

// The anti-entropy tree of one store's event log, read from PostgreSQL (ARCHITECTURE §5).
//
//   root ─ UTC days ─ UTC hours ─ event-id prefix buckets (16-way, computed on demand) ─ event ids
//
// Days and hours come from `event_digests`, which ingest keeps up to date in its transaction: per
// (store, hour of created_at) the event count and the XOR of sha256(event_id ‖ full_payload_hash).
// XOR is order-independent and its own inverse, so a day is the XOR of its hours and the root the
// XOR of everything. Below the hour the same digest is computed from the events themselves,
// grouped by the next hex digit of the event id, so a busy hour with one missing event does not
// have to be listed whole.
//
// Bucket keys: `2026-11-20` (day), `2026-11-20T13` (hour), `2026-11-20T13/a7` (ids starting a7 in
// that hour).

/** One node of the tree: its key, how many events it holds, and their combined digest (64 hex). */
export interface Bucket {
  key: string;
  count: number;
  digest: string;
}

/** An event as the tree lists it: id and payload hash. */
export type Leaf = [eventId: string, payloadHash: string];

export const EMPTY_DIGEST = '0'.repeat(64);

/**
 * Hex digits of a bucket digest or payload hash below the root on the wire: 64 bits tell a changed
 * bucket apart with certainty for any practical purpose (and the counts are compared too), at a
 * quarter of the bytes. The root always travels whole.
 */
export const WIRE_DIGEST_HEX = 16;

const DAY_KEY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2})(?:\/([0-9a-f]{1,8}))?$/;
/** Event ids are uuids: their first 8 hex digits come before the first dash. */
export const MAX_PREFIX = 8;

export function isDayKey(key: string): boolean {
  return DAY_KEY.test(key) && !Number.isNaN(Date.parse(`${key}T00:00:00Z`));
}

/** An hour key or a prefix bucket inside an hour: the hour's start and the id prefix ('' = whole hour). */
export function parseHourBucket(key: string): { hour: string; start: Date; prefix: string } | null {
  const m = HOUR_KEY.exec(key);
  if (!m) return null;
  const start = new Date(`${m[1]}:00:00Z`);
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 13) !== m[1]) return null;
  return { hour: m[1]!, start, prefix: m[2] ?? '' };
}

/** The hour key of an instant (UTC). */
export function hourKeyOf(d: Date): string {
  return d.toISOString().slice(0, 13);
}

/** bit(256) as PostgreSQL prints it ('0101…') → 64 hex digits. */
export function bitsToHex(bits: string | null): string {
  if (!bits) return EMPTY_DIGEST;
  let hex = '';
  for (let i = 0; i < bits.length; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}

/** One event's digest in SQL, exactly as `eventDigest` computes it in ingest. */
const eventDigestSql = sql`('x' || encode(sha256(convert_to(e.event_id::text || e.full_payload_hash, 'UTF8')), 'hex'))::bit(256)`;

interface DigestRow {
  key: string;
  count: string;
  bits: string | null;
}

const toBucket = (r: DigestRow): Bucket => ({
  key: r.key,
  count: Number(r.count),
  digest: bitsToHex(r.bits),
});

/** The whole store: event count and the XOR of every event's digest. */
export async function rootDigest(db: Db, storeId: string): Promise<{ count: number; digest: string }> {
  const r = await sql<{ count: string; bits: string | null }>`
    SELECT coalesce(sum(event_count), 0) AS count, bit_xor(digest)::text AS bits
    FROM event_digests WHERE store_id = ${storeId}`.execute(db);
  const row = r.rows[0]!;
  return { count: Number(row.count), digest: bitsToHex(row.bits) };
}

/** Every UTC day that holds events of the store, in order. */
export async function dayDigests(db: Db, storeId: string): Promise<Bucket[]> {
  const r = await sql<DigestRow>`
    SELECT to_char(bucket_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS key, sum(event_count) AS count,
      bit_xor(digest)::text AS bits
    FROM event_digests WHERE store_id = ${storeId}
    GROUP BY 1 ORDER BY 1`.execute(db);
  return r.rows.map(toBucket);
}

/** The non-empty hours of the given UTC days, in order. */
export async function hourDigests(db: Db, storeId: string, days: string[]): Promise<Bucket[]> {
  if (days.length === 0) return [];
  const r = await sql<DigestRow>`
    SELECT to_char(bucket_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS key, event_count AS count,
      digest::text AS bits
    FROM event_digests
    WHERE store_id = ${storeId} AND to_char(bucket_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD') = ANY(${days}::text[])
    ORDER BY bucket_hour`.execute(db);
  return r.rows.map(toBucket);
}

function bucketRows(keys: string[]) {
  return keys.map((key) => {
    const b = parseHourBucket(key);
    if (!b) throw new Error(`not an hour bucket key: ${key}`);
    return { parent: key, hour: b.hour, start: b.start.toISOString(), prefix: b.prefix };
  });
}

/**
 * The non-empty children of hour or prefix buckets: the events of each, grouped by the next hex
 * digit of their id (`…T13` → `…T13/0` … `…T13/f`; `…T13/a` → `…T13/a0` …), computed from the log.
 */
export async function prefixDigests(db: Db, storeId: string, parents: string[]): Promise<Bucket[]> {
  if (parents.length === 0) return [];
  const rows = bucketRows(parents);
  for (const row of rows) {
    if (row.prefix.length >= MAX_PREFIX) throw new Error(`bucket ${row.parent} cannot be split further`);
  }
  const r = await sql<DigestRow>`
    SELECT b.hour || '/' || left(e.event_id::text, length(b.prefix) + 1) AS key, count(*) AS count,
      bit_xor(${eventDigestSql})::text AS bits
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS b(hour text, start timestamptz, prefix text)
    JOIN events e ON e.store_id = ${storeId}
      AND e.created_at >= b.start AND e.created_at < b.start + interval '1 hour'
      AND starts_with(e.event_id::text, b.prefix)
    GROUP BY 1 ORDER BY 1`.execute(db);
  return r.rows.map(toBucket);
}

/** Ids and payload hashes of the events in the given hour or prefix buckets. */
export async function listLeaves(db: Db, storeId: string, keys: string[]): Promise<Leaf[]> {
  if (keys.length === 0) return [];
  const rows = bucketRows(keys);
  const r = await sql<{ event_id: string; hash: string }>`
    SELECT e.event_id::text AS event_id, e.full_payload_hash AS hash
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS b(start timestamptz, prefix text)
    JOIN events e ON e.store_id = ${storeId}
      AND e.created_at >= b.start AND e.created_at < b.start + interval '1 hour'
      AND starts_with(e.event_id::text, b.prefix)
    ORDER BY 1`.execute(db);
  return r.rows.map((x) => [x.event_id, x.hash]);
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
 * Recomputes digests from the events — every store's, one store's, or only some hours (hour keys)
 * of one store: for a database restored or loaded outside ingest. Same formula as ingest; one
 * transaction. Returns the number of buckets written.
 */
export async function rebuildDigests(db: Db, storeId?: string, hours?: string[]): Promise<number> {
  if (hours !== undefined && storeId === undefined) throw new Error('rebuildDigests: hours need a store');
  const starts = hours?.map((h) => {
    const b = parseHourBucket(h);
    if (!b || b.prefix) throw new Error(`not an hour key: ${h}`);
    return b.start.toISOString();
  });
  return db.transaction().execute(async (trx) => {
    const store = storeId === undefined ? sql`TRUE` : sql`store_id = ${storeId}`;
    const inHours = starts === undefined ? sql`TRUE` : sql`bucket_hour = ANY(${starts}::timestamptz[])`;
    await sql`DELETE FROM event_digests WHERE ${store} AND ${inHours}`.execute(trx);
    const events =
      starts === undefined
        ? sql`events e WHERE ${store}`
        : sql`unnest(${starts}::timestamptz[]) AS h(start)
            JOIN events e ON e.store_id = ${storeId} AND e.created_at >= h.start AND e.created_at < h.start + interval '1 hour'`;
    const r = await sql`
      INSERT INTO event_digests (store_id, bucket_hour, event_count, digest)
      SELECT e.store_id, date_trunc('hour', e.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
        bit_xor(${eventDigestSql})
      FROM ${events}
      GROUP BY 1, 2`.execute(trx);
    return Number(r.numAffectedRows ?? 0);
  });
}
