import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import type { Device } from '../db/schema';
import type { Trx } from '../projections/types';
import { hashToken, newDeviceToken } from '../../domain/auth/tokens';

/** A device as the API shows it: never its token hash. */
export type DeviceInfo = Omit<Device, 'token_hash'>;

const PUBLIC_COLUMNS = ['id', 'store_id', 'name', 'created_at', 'revoked_at'] as const;

/**
 * Registers a device and returns its token; the token is shown once and stored hashed. Returns
 * `null` when the requested device id is already taken (in any store: device ids are global).
 */
export async function registerDevice(
  db: Db,
  input: { storeId: string; name: string; id?: string },
): Promise<{ device: DeviceInfo; token: string } | null> {
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
    .onConflict((oc) => oc.column('id').doNothing())
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
  return device ? { device, token } : null;
}

/** The store's devices, oldest first, revoked ones included (with `revoked_at`). */
export function listDevices(db: Db, storeId: string): Promise<DeviceInfo[]> {
  return db
    .selectFrom('devices')
    .select(PUBLIC_COLUMNS)
    .where('store_id', '=', storeId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The active (not revoked) device holding this token, by its sha-256 (the unique index). */
export function findDeviceByTokenHash(
  db: Db,
  tokenHash: string,
): Promise<Pick<Device, 'id' | 'store_id'> | undefined> {
  return db
    .selectFrom('devices')
    .select(['id', 'store_id'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/**
 * Revokes a device of this store; its token is refused from then on. Revoking again keeps the
 * first `revoked_at`. `undefined` when the store has no such device.
 */
export function revokeDevice(db: Db, storeId: string, deviceId: string): Promise<DeviceInfo | undefined> {
  return db
    .updateTable('devices')
    .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.fn<Date>('now')) }))
    .where('id', '=', deviceId)
    .where('store_id', '=', storeId)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export type RotateResult =
  | { status: 'rotated'; device: DeviceInfo; token: string }
  | { status: 'revoked'; device: DeviceInfo }
  | { status: 'not_found' };

/** Gives an active device of this store a new token; the old one stops working with this commit. */
export async function rotateDeviceToken(db: Db, storeId: string, deviceId: string): Promise<RotateResult> {
  const token = newDeviceToken();
  const device = await db
    .updateTable('devices')
    .set({ token_hash: hashToken(token) })
    .where('id', '=', deviceId)
    .where('store_id', '=', storeId)
    .where('revoked_at', 'is', null)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
  if (device) return { status: 'rotated', device, token };
  const existing = await db
    .selectFrom('devices')
    .select(PUBLIC_COLUMNS)
    .where('id', '=', deviceId)
    .where('store_id', '=', storeId)
    .executeTakeFirst();
  return existing ? { status: 'revoked', device: existing } : { status: 'not_found' };
}

/** The names of these devices of the store, lowercase id → name (devices registered on this node only). */
export async function deviceNames(
  db: Db | Trx,
  storeId: string,
  ids: string[],
): Promise<Map<string, string>> {
  const uuids = [...new Set(ids.map((id) => id.toLowerCase()))].filter((id) =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id),
  );
  if (uuids.length === 0) return new Map();
  const rows = await db
    .selectFrom('devices')
    .select(['id', 'name'])
    .where('store_id', '=', storeId)
    .where('id', '=', sql<string>`ANY(${uuids}::uuid[])`)
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
