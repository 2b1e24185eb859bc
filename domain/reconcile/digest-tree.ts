// The anti-entropy digest tree of one store's event log (docs/federation.md): its keys and buckets.
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

/** Most days one request for hour digests may name (a walk asks for at most this many at once). */
export const MAX_DAYS_PER_REQUEST = 100;
/** Most hour or prefix buckets one request for digests or leaves may name. */
export const MAX_BUCKETS_PER_REQUEST = 200;

const DAY_KEY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2})(?:\/([0-9a-f]{1,8}))?$/;
/**
 * Longest id prefix a bucket key may carry. Event ids are uuids: their first 8 hex digits come
 * before the first dash. (How deep a walk actually splits is its own, smaller, `maxSplitDepth`.)
 */
export const MAX_PREFIX = 8;

export function isDayKey(key: string): boolean {
  return DAY_KEY.test(key) && !Number.isNaN(Date.parse(`${key}T00:00:00Z`));
}

/** An hour key or a prefix bucket inside an hour: the hour's start and the id prefix ('' = whole hour). */
export function parseHourBucket(key: string): { hour: string; start: Date; prefix: string } | null {
  const m = HOUR_KEY.exec(key);
  if (!m) return null;
  const start = hourStart(m[1]!);
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 13) !== m[1]) return null;
  return { hour: m[1]!, start, prefix: m[2] ?? '' };
}

/** The hour key of an instant (UTC): `2026-11-20T13`. */
export function hourKeyOf(d: Date): string {
  return d.toISOString().slice(0, 13);
}

/** The start of the UTC hour an instant falls in: the `bucket_hour` of its event_digests row. */
export function hourStartOf(d: Date): Date {
  return hourStart(hourKeyOf(d));
}

const hourStart = (key: string) => new Date(`${key}:00:00Z`);

/** bit(256) as PostgreSQL prints it ('0101…') → 64 hex digits. */
export function bitsToHex(bits: string | null): string {
  if (!bits) return EMPTY_DIGEST;
  let hex = '';
  for (let i = 0; i < bits.length; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}
