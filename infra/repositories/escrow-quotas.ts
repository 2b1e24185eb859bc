import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, EscrowQuotasTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Escrow quotas (docs/escrow.md): one row per EscrowGranted, keyed by (store, grant). What a quota
// has left is computed from its consumptions and release, so the row never changes after insert.

type Executor = Db | Transaction<Database>;
export type EscrowQuota = Selectable<EscrowQuotasTable>;

export const ESCROW_QUOTA_COLUMNS = {
  store_id: 'uuid',
  grant_id: 'uuid',
  event_id: 'uuid',
  node_id: 'text',
  device_id: 'text',
  product_id: 'uuid',
  qty_granted: 'numeric',
  granted_at: 'timestamptz',
  expires_at: 'timestamptz',
} as const satisfies ColumnMap<EscrowQuotasTable>;

export type EscrowQuotaRow = { [K in keyof typeof ESCROW_QUOTA_COLUMNS]: unknown };

/**
 * CTE body: stores the grants. Two events claiming one grant id resolve to the smaller event id,
 * whatever the arrival order.
 */
export function insertQuotasSql(rows: EscrowQuotaRow[]) {
  const cols = columnList(ESCROW_QUOTA_COLUMNS);
  const set = sql.raw(
    Object.keys(ESCROW_QUOTA_COLUMNS)
      .filter((c) => c !== 'store_id' && c !== 'grant_id')
      .map((c) => `${c} = excluded.${c}`)
      .join(', '),
  );
  return sql`
    INSERT INTO escrow_quotas (${cols})
    SELECT ${cols} FROM ${recordset(ESCROW_QUOTA_COLUMNS, rows)}
    ON CONFLICT (store_id, grant_id) DO UPDATE SET ${set}
    WHERE excluded.event_id < escrow_quotas.event_id`;
}

/** `remaining` of quota `q`: granted − Σ consumed − released (never below zero). */
export const remainingSql = (q: string) => sql`greatest(0, ${sql.ref(`${q}.qty_granted`)}
  - coalesce((SELECT sum(c.qty) FROM escrow_consumptions c
              WHERE c.store_id = ${sql.ref(`${q}.store_id`)} AND c.grant_id = ${sql.ref(`${q}.grant_id`)}), 0)
  - coalesce((SELECT r.qty_released FROM escrow_releases r
              WHERE r.store_id = ${sql.ref(`${q}.store_id`)} AND r.grant_id = ${sql.ref(`${q}.grant_id`)}), 0))`;

const releasedSql = (q: string) => sql`EXISTS (SELECT 1 FROM escrow_releases r
  WHERE r.store_id = ${sql.ref(`${q}.store_id`)} AND r.grant_id = ${sql.ref(`${q}.grant_id`)})`;

export interface QuotaView {
  grant_id: string;
  node_id: string;
  device_id: string;
  product_id: string;
  qty_granted: string;
  qty_consumed: string;
  remaining: string;
  granted_at: Date;
  expires_at: Date;
}

/** A device's quotas that are neither released nor expired, soonest expiry first. */
export async function activeQuotas(db: Executor, storeId: string, deviceId: string): Promise<QuotaView[]> {
  const r = await sql<QuotaView>`
    SELECT q.grant_id::text, q.node_id, q.device_id, q.product_id::text, q.qty_granted::text,
      coalesce((SELECT sum(c.qty) FROM escrow_consumptions c
                WHERE c.store_id = q.store_id AND c.grant_id = q.grant_id), 0)::text AS qty_consumed,
      ${remainingSql('q')}::text AS remaining, q.granted_at, q.expires_at
    FROM escrow_quotas q
    WHERE q.store_id = ${storeId} AND q.device_id = ${deviceId}
      AND q.expires_at > now() AND NOT ${releasedSql('q')}
    ORDER BY q.expires_at, q.grant_id`.execute(db);
  return r.rows.filter((q) => Number(q.remaining) > 0);
}

export interface OpenQuota {
  store_id: string;
  grant_id: string;
  device_id: string;
  product_id: string;
  remaining: number;
}

/**
 * Quotas granted by `nodeId` and not released, for these (store, device, product) keys, with what each
 * has left: the ones a sale of that device may consume, soonest expiry first. Lock the products
 * (escrow lock) first when the answer decides a write.
 */
export async function openQuotasFor(trx: Executor, nodeId: string, keys: QuotaKey[]): Promise<OpenQuota[]> {
  if (keys.length === 0) return [];
  const r = await sql<OpenQuota & { remaining: string }>`${openQuotasSql(nodeId, keys)}`.execute(trx);
  return openQuotasOf(r.rows);
}

export interface QuotaKey {
  store_id: string;
  device_id: string;
  product_id: string;
}

/** openQuotasFor as a query to compose (the push path reads it with the stock in one round trip). */
export function openQuotasSql(nodeId: string, keys: QuotaKey[]) {
  return sql`
    SELECT q.store_id::text, q.grant_id::text, q.device_id, q.product_id::text,
      ${remainingSql('q')}::text AS remaining
    FROM escrow_quotas q
    JOIN ${recordset({ store_id: 'uuid', device_id: 'text', product_id: 'uuid' }, keys, 'k')}
      ON (q.store_id, q.device_id, q.product_id) = (k.store_id, k.device_id, k.product_id)
    WHERE q.node_id = ${nodeId} AND NOT ${releasedSql('q')}
    ORDER BY q.expires_at, q.grant_id`;
}

/** Rows of openQuotasSql as OpenQuota, the empty ones left out. */
export function openQuotasOf(
  rows: (Omit<OpenQuota, 'remaining'> & { remaining: string | number })[],
): OpenQuota[] {
  return rows.map((q) => ({ ...q, remaining: Number(q.remaining) })).filter((q) => q.remaining > 0);
}

/**
 * What quotas not yet given back hold per product, of every device but `exceptDevice` (all devices
 * when null): the stock a device must not count as its own (the store snapshot reports it).
 */
export async function heldInQuotas(
  db: Executor,
  storeId: string,
  exceptDevice: string | null,
): Promise<Map<string, string>> {
  const r = await sql<{ product_id: string; held: string }>`
    SELECT q.product_id::text, sum(${remainingSql('q')})::text AS held
    FROM escrow_quotas q
    WHERE q.store_id = ${storeId} AND q.device_id IS DISTINCT FROM ${exceptDevice}
    GROUP BY q.product_id
    HAVING sum(${remainingSql('q')}) > 0`.execute(db);
  return new Map(r.rows.map((x) => [x.product_id, x.held]));
}

/** One quota with what it has consumed, or undefined. */
export async function quotaOf(
  db: Executor,
  storeId: string,
  grantId: string,
): Promise<(EscrowQuota & { qty_consumed: string; released: boolean }) | undefined> {
  const r = await sql<EscrowQuota & { qty_consumed: string; released: boolean }>`
    SELECT q.*, q.qty_granted::text AS qty_granted,
      coalesce((SELECT sum(c.qty) FROM escrow_consumptions c
                WHERE c.store_id = q.store_id AND c.grant_id = q.grant_id), 0)::text AS qty_consumed,
      ${releasedSql('q')} AS released
    FROM escrow_quotas q WHERE q.store_id = ${storeId} AND q.grant_id = ${grantId}`.execute(db);
  return r.rows[0];
}

/**
 * What is held in quotas of a product: by every device (`all`), by one device (`device`), and by the
 * quotas of one node (`node`): granted − consumed − released, released or expired alike (a quota
 * counts until its node gives it back).
 */
export async function outstandingOf(
  db: Executor,
  storeId: string,
  productId: string,
  deviceId: string,
  nodeId: string,
): Promise<{ all: number; device: number; node: number }> {
  const r = await sql<{ all: string; device: string; node: string }>`
    WITH q AS (
      SELECT q.device_id, q.node_id, ${remainingSql('q')} AS remaining
      FROM escrow_quotas q WHERE q.store_id = ${storeId} AND q.product_id = ${productId})
    SELECT coalesce(sum(remaining), 0)::text AS all,
      coalesce(sum(remaining) FILTER (WHERE device_id = ${deviceId}), 0)::text AS device,
      coalesce(sum(remaining) FILTER (WHERE node_id = ${nodeId}), 0)::text AS node
    FROM q`.execute(db);
  const row = r.rows[0]!;
  return { all: Number(row.all), device: Number(row.device), node: Number(row.node) };
}
