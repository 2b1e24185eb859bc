import { sql, type RawBuilder } from 'kysely';
import type { KeyRange } from '../../domain/erp/bisection';

// The SQL side of the checksum contract (domain/erp/checksum.ts): byte order is COLLATE "C", a
// range's checksum is sha-256 over `key|content_hash` lines joined by "\n". Shared by the
// repositories of the reconciled tables (erp_items, erp_stock), whose range indexes are COLLATE "C".

/** `key` within the range, in byte order. */
export function keyInRange(key: RawBuilder<unknown>, r: KeyRange): RawBuilder<boolean> {
  return r.to === null
    ? sql<boolean>`${key} COLLATE "C" >= ${r.from}`
    : sql<boolean>`${key} COLLATE "C" >= ${r.from} AND ${key} COLLATE "C" < ${r.to}`;
}

/** The checksum aggregate over rows with columns `key` and `content_hash`. */
export const checksumAggregate = (key: RawBuilder<unknown>) =>
  sql<string>`encode(sha256(convert_to(coalesce(string_agg(${key} || '|' || content_hash, E'\\n' ORDER BY ${key} COLLATE "C"), ''), 'UTF8')), 'hex')`;

export interface RangeSummary {
  hash: string;
  count: number;
  /** The median key (null below two rows): where bisection splits the range. */
  splitKey: string | null;
}
