import { createHash } from 'node:crypto';
import { compareKeys } from './bisection';

export { compareKeys, inRange, type KeyRange } from './bisection';

// The checksum contract between the node and an ERP agent (docs/erp-bridge.md, "Checksums"). A
// record's content hash is the sha-256 of its canonical JSON (keys sorted, no `updatedAt`); a range
// checksum is the sha-256 of `key|contentHash` lines joined by "\n" in byte order of the keys. The
// node computes the same in SQL (COLLATE "C" is byte order), so a range costs one index scan.

/** JSON with object keys sorted at every depth and undefined members left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The content hash of a record as the agent sent it, without its timestamp. */
export function contentHash(record: Record<string, unknown>): string {
  const { updatedAt: _ignored, ...content } = record;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The reconciliation key of a stock record. */
export const stockKey = (sku: string, warehouseId: string): string => `${sku}@${warehouseId}`;

/** The checksum of a range's `{key, hash}` entries (any order in; sorted here). */
export function rangeChecksum(entries: readonly { key: string; hash: string }[]): {
  hash: string;
  count: number;
} {
  const lines = [...entries].sort((a, b) => compareKeys(a.key, b.key)).map((e) => `${e.key}|${e.hash}`);
  return { hash: createHash('sha256').update(lines.join('\n'), 'utf8').digest('hex'), count: lines.length };
}
