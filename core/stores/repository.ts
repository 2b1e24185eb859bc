import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import type { Device, Store } from '../db/schema';
import { hashToken, newDeviceToken } from '../auth/tokens';

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

/** Registers a device and returns its token; the token is shown once and stored hashed. */
export async function registerDevice(
  db: Db,
  input: { storeId: string; name: string; id?: string },
): Promise<{ device: Device; token: string }> {
  const token = newDeviceToken();
  const device = await db
    .insertInto('devices')
    .values({
      id: input.id ?? randomUUID(),
      store_id: input.storeId,
      name: input.name,
      token_hash: hashToken(token),
      revoked_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { device, token };
}

export function findDeviceByToken(db: Db, token: string): Promise<Device | undefined> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('token_hash', '=', hashToken(token))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}
