import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { KeyRange } from '../../domain/erp/bisection';
import { checksumAggregate, keyInRange, type RangeSummary } from '../erp/key-range';

// A vendor's catalogue as its ERP sent it (erp_items), keyed by (vendor_id, sku), with the node
// codes its units, VAT rates and families map to.

type Executor = Db | Transaction<Database>;

export interface ItemRow {
  vendor_id: string;
  sku: string;
  name: string;
  erp_unit: string;
  erp_vat: string;
  unit_code: string;
  vat_code: string;
  family_code: string | null;
  subfamily_code: string | null;
  price: number | null;
  data: Record<string, unknown>;
  content_hash: string;
  erp_updated_at: Date;
}

export interface StoredVersion {
  content_hash: string;
  erp_updated_at: Date;
}

export async function itemVersions(
  db: Executor,
  vendorId: string,
  skus: readonly string[],
): Promise<Map<string, StoredVersion>> {
  if (skus.length === 0) return new Map();
  const rows = await db
    .selectFrom('erp_items')
    .select(['sku', 'content_hash', 'erp_updated_at'])
    .where('vendor_id', '=', vendorId)
    .where('sku', '=', sql<string>`ANY(${sql.val(skus)}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.sku, r]));
}

/**
 * One multi-row upsert. A row already stored with a later ERP timestamp (a concurrent push won) is
 * left alone; `force` (reconciliation: the ERP's current record) overwrites whatever is stored.
 * Returns the skus written.
 */
export async function upsertItems(
  db: Executor,
  rows: readonly ItemRow[],
  force = false,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const written = await db
    .insertInto('erp_items')
    .values(rows.map((r) => ({ ...r, data: JSON.stringify(r.data) })))
    .onConflict((oc) => {
      const update = oc.columns(['vendor_id', 'sku']).doUpdateSet({
        name: sql`excluded.name`,
        erp_unit: sql`excluded.erp_unit`,
        erp_vat: sql`excluded.erp_vat`,
        unit_code: sql`excluded.unit_code`,
        vat_code: sql`excluded.vat_code`,
        family_code: sql`excluded.family_code`,
        subfamily_code: sql`excluded.subfamily_code`,
        price: sql`excluded.price`,
        data: sql`excluded.data`,
        content_hash: sql`excluded.content_hash`,
        erp_updated_at: sql`excluded.erp_updated_at`,
        last_synced_at: sql`now()`,
      });
      return force ? update : update.where(sql<boolean>`erp_items.erp_updated_at <= excluded.erp_updated_at`);
    })
    .returning('sku')
    .execute();
  return new Set(written.map((w) => w.sku));
}

export async function itemRangeSummary(db: Executor, vendorId: string, r: KeyRange): Promise<RangeSummary> {
  const key = sql.ref('sku');
  const agg = await db
    .selectFrom('erp_items')
    .select([sql<number>`count(*)::int`.as('count'), checksumAggregate(key).as('hash')])
    .where('vendor_id', '=', vendorId)
    .where(keyInRange(key, r))
    .executeTakeFirstOrThrow();
  let splitKey: string | null = null;
  if (agg.count >= 2) {
    const mid = await db
      .selectFrom('erp_items')
      .select('sku')
      .where('vendor_id', '=', vendorId)
      .where(keyInRange(key, r))
      .orderBy(sql`sku COLLATE "C"`)
      .offset(Math.floor(agg.count / 2))
      .limit(1)
      .executeTakeFirst();
    splitKey = mid?.sku ?? null;
  }
  return { hash: agg.hash, count: agg.count, splitKey };
}

export function itemsInRange(db: Executor, vendorId: string, r: KeyRange) {
  return db
    .selectFrom('erp_items')
    .select(['sku', 'content_hash', 'data'])
    .where('vendor_id', '=', vendorId)
    .where(keyInRange(sql.ref('sku'), r))
    .orderBy(sql`sku COLLATE "C"`)
    .execute();
}

export function getItem(db: Executor, vendorId: string, sku: string) {
  return db
    .selectFrom('erp_items')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .where('sku', '=', sku)
    .executeTakeFirst();
}

export async function countItems(db: Executor, vendorId: string): Promise<number> {
  const r = await db
    .selectFrom('erp_items')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
