import type { Db } from '../db';
import type { ErpMappingType } from '../db/erp-schema';
import { itemVersions, upsertItems, type ItemRow, type StoredVersion } from '../repositories/erp-items';
import { stockVersions, upsertStock, type StockRow } from '../repositories/erp-stock';
import { upsertWarehouses, warehouseVersions, type WarehouseRow } from '../repositories/erp-warehouses';
import { chunk } from '../../domain/chunk';
import { contentHash, stockKey } from '../../domain/erp/checksum';
import {
  IngestReason,
  recordSchemas,
  type IngestKind,
  type IngestResponse,
  type IngestResult,
  type ItemRecord,
  type StockRecord,
  type WarehouseRecord,
} from '../../domain/erp/schemas';
import { describeIssues } from '../../domain/errors';
import { mappingKey, type MappingResolver } from './mappings';

// The ERP → DB pipeline of the seed's REQ-5: validate each record, skip it when its content hash is
// what is stored, reject it when the stored record is newer, resolve its codes (items: unit and VAT
// required, family and subfamily optional), then one multi-row upsert per chunk. Every record gets a
// result in request order; one bad record never fails the others.

export interface IngestDeps {
  db: Db;
  mappings: MappingResolver;
  chunkSize: number;
}

interface Candidate<R> {
  index: number;
  key: string;
  record: R;
  hash: string;
}

/** Identity fields of a record for its result, even when the record is invalid. */
function identity(kind: IngestKind, raw: unknown): Pick<IngestResult, 'sku' | 'warehouseId'> {
  const o = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 100) : undefined);
  if (kind === 'warehouses') return { warehouseId: str(o.warehouseId) };
  if (kind === 'stock') return { sku: str(o.sku), warehouseId: str(o.warehouseId) };
  return { sku: str(o.sku) };
}

const keyOf = {
  items: (r: ItemRecord) => r.sku,
  stock: (r: StockRecord) => stockKey(r.sku, r.warehouseId),
  warehouses: (r: WarehouseRecord) => r.warehouseId,
};

export async function ingestRecords(
  deps: IngestDeps,
  kind: IngestKind,
  vendorId: string,
  records: readonly unknown[],
): Promise<IngestResponse> {
  const results: IngestResult[] = records.map((raw) => ({ ...identity(kind, raw), status: 'processed' }));
  const fail = (i: number, reason: string, message?: string) => {
    results[i] = { ...results[i]!, status: 'failed', reason, ...(message ? { message } : {}) };
  };
  const skip = (i: number, reason: string) => {
    results[i] = { ...results[i]!, status: 'skipped', reason };
  };

  const seen = new Set<string>();
  const valid: Candidate<Record<string, unknown>>[] = [];
  records.forEach((raw, index) => {
    const parsed = recordSchemas[kind].safeParse(raw);
    if (!parsed.success) return fail(index, IngestReason.invalid, describeIssues(parsed.error.issues));
    const record = parsed.data as ItemRecord & StockRecord & WarehouseRecord;
    const key = keyOf[kind](record);
    if (seen.has(key))
      return fail(index, IngestReason.duplicate, 'the same record appears earlier in this request');
    seen.add(key);
    valid.push({ index, key, record, hash: contentHash(record) });
  });

  for (const part of chunk(valid, deps.chunkSize)) {
    const versions = await storedVersions(
      deps.db,
      kind,
      vendorId,
      part.map((c) => c.key),
    );
    const fresh = part.filter((c) => {
      const stored = versions.get(c.key);
      if (stored?.content_hash === c.hash) return (skip(c.index, IngestReason.unchanged), false);
      if (stored && stored.erp_updated_at.getTime() > Date.parse(c.record.updatedAt as string)) {
        fail(c.index, IngestReason.stale, `stored record is newer (${stored.erp_updated_at.toISOString()})`);
        return false;
      }
      return true;
    });
    const written = await write(deps, kind, vendorId, fresh, fail);
    for (const c of fresh) {
      if (results[c.index]!.status === 'processed' && !written.has(c.key)) {
        fail(c.index, IngestReason.stale, 'a newer version of this record was written concurrently');
      }
    }
  }

  const count = (s: IngestResult['status']) => results.filter((r) => r.status === s).length;
  return { processed: count('processed'), skipped: count('skipped'), failed: count('failed'), results };
}

function storedVersions(
  db: Db,
  kind: IngestKind,
  vendorId: string,
  keys: string[],
): Promise<Map<string, StoredVersion>> {
  if (kind === 'items') return itemVersions(db, vendorId, keys);
  if (kind === 'stock') return stockVersions(db, vendorId, keys);
  return warehouseVersions(db, vendorId, keys);
}

async function write(
  deps: IngestDeps,
  kind: IngestKind,
  vendorId: string,
  fresh: Candidate<Record<string, unknown>>[],
  fail: (i: number, reason: string, message?: string) => void,
): Promise<Set<string>> {
  if (kind === 'stock') {
    return upsertStock(
      deps.db,
      (fresh as Candidate<StockRecord>[]).map((c) => stockRow(vendorId, c.record, c.hash)),
    );
  }
  if (kind === 'warehouses') {
    return upsertWarehouses(
      deps.db,
      (fresh as Candidate<WarehouseRecord>[]).map((c) => warehouseRow(vendorId, c.record, c.hash)),
    );
  }
  const { rows, unmapped } = await itemRows(deps.mappings, vendorId, fresh as Candidate<ItemRecord>[]);
  for (const u of unmapped) fail(u.index, u.reason, u.message);
  return upsertItems(deps.db, rows);
}

export function stockRow(vendorId: string, r: StockRecord, hash = contentHash(r)): StockRow {
  return {
    vendor_id: vendorId,
    warehouse_id: r.warehouseId,
    item_id: r.sku,
    stock_key: stockKey(r.sku, r.warehouseId),
    quantity: r.quantity,
    data: r,
    content_hash: hash,
    erp_updated_at: new Date(r.updatedAt),
  };
}

export function warehouseRow(vendorId: string, r: WarehouseRecord, hash = contentHash(r)): WarehouseRow {
  return {
    vendor_id: vendorId,
    erp_warehouse_id: r.warehouseId,
    name: r.name,
    data: r,
    content_hash: hash,
    erp_updated_at: new Date(r.updatedAt),
  };
}

/** Items with their codes resolved; those whose unit or VAT is not mapped come back as unmapped. */
export async function itemRows(
  mappings: MappingResolver,
  vendorId: string,
  candidates: readonly { index: number; record: ItemRecord; hash: string }[],
): Promise<{ rows: ItemRow[]; unmapped: { index: number; reason: string; message: string }[] }> {
  const pairs = new Map<string, { type: ErpMappingType; code: string }>();
  const want = (type: ErpMappingType, code: string | null | undefined) => {
    if (code) pairs.set(mappingKey(vendorId, type, code), { type, code });
  };
  for (const { record: r } of candidates) {
    want('unit', r.unit);
    want('vat', r.vat);
    want('family', r.family);
    want('subfamily', r.subfamily);
  }
  const resolved = await mappings.resolveMany(vendorId, [...pairs.values()]);
  const lookup = (type: ErpMappingType, code: string | null | undefined) =>
    code ? (resolved.get(mappingKey(vendorId, type, code)) ?? null) : null;

  const rows: ItemRow[] = [];
  const unmapped: { index: number; reason: string; message: string }[] = [];
  for (const { index, record: r, hash } of candidates) {
    const unit = lookup('unit', r.unit);
    const vat = lookup('vat', r.vat);
    if (!unit) {
      unmapped.push({ index, reason: IngestReason.unmappedUnit, message: `unit "${r.unit}" has no mapping` });
      continue;
    }
    if (!vat) {
      unmapped.push({ index, reason: IngestReason.unmappedVat, message: `vat "${r.vat}" has no mapping` });
      continue;
    }
    rows.push({
      vendor_id: vendorId,
      sku: r.sku,
      name: r.name,
      erp_unit: r.unit,
      erp_vat: r.vat,
      unit_code: unit.restoCode,
      vat_code: vat.restoCode,
      family_code: lookup('family', r.family)?.restoCode ?? null,
      subfamily_code: lookup('subfamily', r.subfamily)?.restoCode ?? null,
      price: r.price ?? null,
      data: r,
      content_hash: hash,
      erp_updated_at: new Date(r.updatedAt),
    });
  }
  return { rows, unmapped };
}
