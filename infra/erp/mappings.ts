import { LRUCache } from 'lru-cache';
import type { Db } from '../db';
import type { ErpMappingType } from '../db/erp-schema';
import { findActiveMappings } from '../repositories/erp-code-mappings';
import { mappingVersion } from '../repositories/erp-mapping-version';
import type { MappingResult } from '../../domain/erp/schemas';

// ERP code resolution with the seed's cache: `${vendorId}:${type}:${erpCode}`, 5 minutes, 10,000
// entries, LRU eviction (lru-cache), cleared on every write this process makes. "Not mapped" is
// cached too (as null), so an unmapped code in every push costs no mapping query.
//
// Across processes (other API replicas, the workers' reconcile activities): every resolution first
// reads erp_mapping_version (one primary-key row, bumped by a trigger in the transaction of any
// mapping write). An entry is used only if it was read under the version just read, so a write
// is seen by every cache as soon as it commits, not after the TTL. The version is read before the
// mappings: an entry can only be newer than its tag, never older.

export interface MappingResolver {
  resolve(vendorId: string, type: ErpMappingType, erpCode: string): Promise<MappingResult | null>;
  /** Resolves many codes of a vendor with at most one query for the cache misses. */
  resolveMany(
    vendorId: string,
    pairs: readonly { type: ErpMappingType; code: string }[],
  ): Promise<Map<string, MappingResult | null>>;
  invalidate(): void;
  readonly size: number;
}

export const mappingKey = (vendorId: string, type: string, code: string) => `${vendorId}:${type}:${code}`;

type Cached = { value: MappingResult | null; version: string };

export function createMappingResolver(db: Db, opts: { max: number; ttlMs: number }): MappingResolver {
  const cache = new LRUCache<string, Cached>({ max: opts.max, ttl: opts.ttlMs });
  let lastVersion: string | null = null;
  const resolveMany: MappingResolver['resolveMany'] = async (vendorId, pairs) => {
    const out = new Map<string, MappingResult | null>();
    if (pairs.length === 0) return out;
    const version = await mappingVersion(db);
    // Entries of an older version can no longer be used: let them go at once.
    if (version !== lastVersion) {
      cache.clear();
      lastVersion = version;
    }
    const misses = new Map<string, { type: ErpMappingType; code: string }>();
    for (const p of pairs) {
      const key = mappingKey(vendorId, p.type, p.code);
      const hit = cache.get(key);
      // A concurrent resolution may still store what it read under the previous version.
      if (hit && hit.version === version) out.set(key, hit.value);
      else misses.set(key, p);
    }
    if (misses.size === 0) return out;
    const rows = await findActiveMappings(db, vendorId, [...misses.values()]);
    for (const key of misses.keys()) out.set(key, null);
    for (const r of rows) {
      out.set(mappingKey(vendorId, r.mapping_type, r.erp_code), {
        restoCode: r.resto_code,
        restoLabel: r.resto_label,
      });
    }
    for (const key of misses.keys()) cache.set(key, { value: out.get(key) ?? null, version });
    return out;
  };
  return {
    resolveMany,
    async resolve(vendorId, type, erpCode) {
      const m = await resolveMany(vendorId, [{ type, code: erpCode }]);
      return m.get(mappingKey(vendorId, type, erpCode)) ?? null;
    },
    invalidate: () => cache.clear(),
    get size() {
      return cache.size;
    },
  };
}
