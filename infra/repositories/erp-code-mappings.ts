import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpCodeMapping, ErpMappingType } from '../db/erp-schema';

// ERP code → node code translations per vendor (erp_code_mappings). Deleting is a soft delete
// (is_active = false): resolution ignores inactive rows, the admin list can still show them.

type Executor = Db | Transaction<Database>;
export type { ErpCodeMapping };

/**
 * Runs a mapping write after locking the one erp_mapping_version row its trigger bumps. Every write
 * then takes the version row before any mapping row, so a multi-chunk seed and a single write never
 * wait on each other in opposite orders (a deadlock). Inside a caller's transaction the lock is held
 * to its commit, as the trigger's would be.
 */
async function versionFirst<T>(db: Executor, write: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  const run = async (trx: Transaction<Database>) => {
    await sql`SELECT version FROM erp_mapping_version WHERE id FOR UPDATE`.execute(trx);
    return write(trx);
  };
  return db.isTransaction ? run(db as Transaction<Database>) : db.transaction().execute(run);
}

export interface MappingWrite {
  vendor_id: string;
  mapping_type: ErpMappingType;
  erp_code: string;
  resto_code: string;
  resto_label: string | null;
}

export interface MappingFilter {
  vendorId?: string;
  mappingType?: ErpMappingType;
  includeInactive?: boolean;
}

export async function listMappings(
  db: Executor,
  f: MappingFilter,
  page: { limit: number; offset: number },
): Promise<{ rows: ErpCodeMapping[]; total: number }> {
  let q = db.selectFrom('erp_code_mappings');
  if (f.vendorId) q = q.where('vendor_id', '=', f.vendorId);
  if (f.mappingType) q = q.where('mapping_type', '=', f.mappingType);
  if (!f.includeInactive) q = q.where('is_active', '=', true);
  const [rows, count] = await Promise.all([
    q
      .selectAll()
      .orderBy('vendor_id')
      .orderBy('mapping_type')
      .orderBy('erp_code')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function getMapping(db: Executor, id: string): Promise<ErpCodeMapping | undefined> {
  return db.selectFrom('erp_code_mappings').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Creates a mapping, or reactivates and overwrites the one with the same vendor, type and code. */
export function upsertMapping(db: Executor, m: MappingWrite): Promise<ErpCodeMapping> {
  return versionFirst(db, (trx) =>
    trx
      .insertInto('erp_code_mappings')
      .values(m)
      .onConflict((oc) =>
        oc.constraint('erp_code_mappings_key').doUpdateSet({
          resto_code: m.resto_code,
          resto_label: m.resto_label,
          is_active: true,
          updated_at: new Date(),
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
}

/** Bulk seed: one statement per call (the caller chunks); later duplicates in the list win. */
export async function seedMappings(db: Executor, rows: MappingWrite[]): Promise<number> {
  const byKey = new Map(rows.map((r) => [`${r.vendor_id}\u0000${r.mapping_type}\u0000${r.erp_code}`, r]));
  if (byKey.size === 0) return 0;
  const r = await versionFirst(db, (trx) =>
    trx
      .insertInto('erp_code_mappings')
      .values([...byKey.values()])
      .onConflict((oc) =>
        oc.constraint('erp_code_mappings_key').doUpdateSet({
          resto_code: sql`excluded.resto_code`,
          resto_label: sql`excluded.resto_label`,
          is_active: true,
          updated_at: new Date(),
        }),
      )
      .executeTakeFirst(),
  );
  return Number(r.numInsertedOrUpdatedRows ?? 0n);
}

export function updateMapping(
  db: Executor,
  id: string,
  patch: { resto_code?: string; resto_label?: string | null; is_active?: boolean },
): Promise<ErpCodeMapping | undefined> {
  return versionFirst(db, (trx) =>
    trx
      .updateTable('erp_code_mappings')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst(),
  );
}

/** The active mappings of a vendor for these (type, code) pairs, in one query. */
export async function findActiveMappings(
  db: Executor,
  vendorId: string,
  pairs: readonly { type: ErpMappingType; code: string }[],
): Promise<ErpCodeMapping[]> {
  if (pairs.length === 0) return [];
  return db
    .selectFrom('erp_code_mappings')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .where('is_active', '=', true)
    .where((eb) =>
      eb(
        eb.refTuple('mapping_type', 'erp_code'),
        'in',
        pairs.map((p) => eb.tuple(p.type, p.code)),
      ),
    )
    .execute();
}
