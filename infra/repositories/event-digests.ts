import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db';
import type { EventDigestsTable } from '../db/schema';
import {
  bitsToHex,
  MAX_PREFIX,
  parseHourBucket,
  type Bucket,
  type Leaf,
} from '../../domain/reconcile/digest-tree';
import { columnList, recordset, type ColumnMap } from './recordset';
// The digest tree in PostgreSQL: days and hours from event_digests (folded in by ingest with
// `upsertDigestsSql`), prefix buckets and leaves computed from the events themselves.

/** A bucket's digest travels as hex text and becomes bit(256) in the statement. */
const DIGEST_COLUMNS = {
  store_id: 'uuid',
  bucket_hour: 'timestamptz',
  event_count: 'bigint',
  digest: 'text',
} as const satisfies ColumnMap<EventDigestsTable>;

export interface DigestDelta {
  store_id: string;
  bucket_hour: string;
  event_count: number;
  /** XOR of the bucket's new event digests, 64 hex digits. */
  digest: string;
}

/**
 * CTE body: folds new events into their (store, hour) buckets — counts added, digests XORed — when
 * `guard` holds (ingest passes its feed lock, so the hot rows are locked only under it).
 */
export function upsertDigestsSql(deltas: DigestDelta[], guard: RawBuilder<unknown> = sql`TRUE`) {
  return sql`
    INSERT INTO event_digests (${columnList(DIGEST_COLUMNS)})
    SELECT store_id, bucket_hour, event_count, ('x' || digest)::bit(256)
    FROM ${recordset(DIGEST_COLUMNS, deltas, 'd')}
    WHERE ${guard}
    ON CONFLICT (store_id, bucket_hour) DO UPDATE SET
      event_count = event_digests.event_count + excluded.event_count,
      digest = event_digests.digest # excluded.digest`;
}

/** A digest bucket addressed by key: its hour's text key, its start and its event-id prefix. */
interface BucketKey {
  parent: string;
  hour: string;
  start: string;
  prefix: string;
}

const BUCKET_COLUMNS = {
  hour: 'text',
  start: 'timestamptz',
  prefix: 'text',
} as const satisfies ColumnMap<BucketKey>;

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

function bucketRows(keys: string[]): BucketKey[] {
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
    FROM ${recordset(BUCKET_COLUMNS, rows, 'b')}
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
    FROM ${recordset(BUCKET_COLUMNS, rows, 'b')}
    JOIN events e ON e.store_id = ${storeId}
      AND e.created_at >= b.start AND e.created_at < b.start + interval '1 hour'
      AND starts_with(e.event_id::text, b.prefix)
    ORDER BY 1`.execute(db);
  return r.rows.map((x) => [x.event_id, x.hash]);
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
