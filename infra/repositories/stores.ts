import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import type { Store } from '../db/schema';
import { ApiError, AppError } from '../../domain/errors';

/** Declares a store; declaring an existing id again returns it unchanged (idempotent). */
export async function declareStore(
  db: Db,
  input: { id?: string; name: string },
): Promise<{ store: Store; created: boolean }> {
  const id = input.id ?? randomUUID();
  const inserted = await db
    .insertInto('stores')
    .values({ id, name: input.name })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { store: inserted, created: true };
  return {
    store: await db.selectFrom('stores').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
    created: false,
  };
}

export function findStore(db: Db, id: string): Promise<Store | undefined> {
  return db.selectFrom('stores').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The store a request names; a 404 STORE_NOT_FOUND when this node does not hold it. */
export async function requireStore(db: Db, id: string): Promise<Store> {
  const store = await findStore(db, id);
  if (!store) throw new AppError(404, ApiError.storeNotFound, `store_id: no store ${id} on this node`);
  return store;
}

/** Every store this node holds, by id. */
export async function listStoreIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('stores').select('id').orderBy('id').execute();
  return rows.map((r) => r.id);
}

/** Every store this node holds, by name (the dashboard's store picker). */
export function listStores(db: Db): Promise<Pick<Store, 'id' | 'name'>[]> {
  return db.selectFrom('stores').select(['id', 'name']).orderBy('name').orderBy('id').execute();
}
