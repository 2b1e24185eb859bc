import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, WarehouseStockTable } from '../db/schema';
import type { ProjectionSink, StockDelta, Trx } from '../projections/types';
import { recordset, type ColumnMap } from './recordset';
import { hasMovementSql } from './stock-movements';

const DELTA_COLUMNS = {
  store_id: 'uuid',
  warehouse_id: 'uuid',
  product_id: 'uuid',
  qty: 'numeric',
} as const satisfies ColumnMap<WarehouseStockTable & { qty: unknown }>;

const KEY_COLUMNS = {
  store_id: 'uuid',
  warehouse_id: 'uuid',
  product_id: 'uuid',
} as const satisfies ColumnMap<WarehouseStockTable>;

/**
 * The warehouse_stock upsert for a set of deltas, as a statement or a data-modifying CTE body: one row
 * per (store, warehouse, product), locked in key order so concurrent transactions cannot deadlock.
 */
export function stockUpsertSql(deltas: StockDelta[], guard: RawBuilder<unknown> = sql`TRUE`) {
  return sql`
    INSERT INTO warehouse_stock (store_id, warehouse_id, product_id, stock)
    SELECT store_id, warehouse_id, product_id, sum(qty) FROM ${recordset(DELTA_COLUMNS, deltas, 'd')}
    WHERE ${guard}
    GROUP BY store_id, warehouse_id, product_id
    ORDER BY store_id, warehouse_id, product_id
    ON CONFLICT (store_id, warehouse_id, product_id)
    DO UPDATE SET stock = warehouse_stock.stock + excluded.stock`;
}

/** Deletes the given stock rows if no movement is left for them. */
export async function pruneStock(trx: Trx, keys: ProjectionSink['prune']): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    DELETE FROM warehouse_stock ws USING ${recordset(KEY_COLUMNS, keys, 'k')}
    WHERE (ws.store_id, ws.warehouse_id, ws.product_id) = (k.store_id, k.warehouse_id, k.product_id)
      AND NOT ${hasMovementSql('ws')}`.execute(trx);
}

type Executor = Db | Transaction<Database>;

/** A product's stock in a store, over all its warehouses. */
export async function productStock(db: Executor, storeId: string, productId: string): Promise<number> {
  const r = await sql<{ stock: string }>`
    SELECT coalesce(sum(stock), 0)::text AS stock FROM warehouse_stock
    WHERE store_id = ${storeId} AND product_id = ${productId}`.execute(db);
  return Number(r.rows[0]!.stock);
}

export interface StockLevel {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  stock: string;
}

/** Current stock of these (store, warehouse, product) rows (absent rows are not returned). */
export async function stockLevels(db: Executor, keys: ProjectionSink['prune']): Promise<StockLevel[]> {
  if (keys.length === 0) return [];
  return (await sql<StockLevel>`${stockLevelsSql(keys)}`.execute(db)).rows;
}

/** stockLevels as a query to compose. */
export function stockLevelsSql(keys: ProjectionSink['prune']) {
  return sql`
    SELECT ws.store_id::text, ws.warehouse_id::text, ws.product_id::text, ws.stock::text
    FROM warehouse_stock ws JOIN ${recordset(KEY_COLUMNS, keys, 'k')}
      ON (ws.store_id, ws.warehouse_id, ws.product_id) = (k.store_id, k.warehouse_id, k.product_id)`;
}

export interface NegativeStock extends StockLevel {
  product_name: string | null;
}

/** Every row below zero, with the product's name when known (the oversell detector). */
export async function negativeStock(db: Executor, limit = 1000): Promise<NegativeStock[]> {
  const r = await sql<NegativeStock>`
    SELECT ws.store_id::text, ws.warehouse_id::text, ws.product_id::text, ws.stock::text, p.name AS product_name
    FROM warehouse_stock ws
    LEFT JOIN products p ON (p.store_id, p.id) = (ws.store_id, ws.product_id)
    WHERE ws.stock < 0
    ORDER BY ws.store_id, ws.warehouse_id, ws.product_id
    LIMIT ${limit}`.execute(db);
  return r.rows;
}

/**
 * A store's stock rows by (warehouse, product), after the key `after` (keyset pagination); all of
 * them without a limit.
 */
export function listStock(
  db: Db | Trx,
  storeId: string,
  page: { after?: { warehouse_id: string; product_id: string }; limit?: number } = {},
) {
  let q = db
    .selectFrom('warehouse_stock')
    .select(['warehouse_id', 'product_id', 'stock'])
    .where('store_id', '=', storeId);
  if (page.after !== undefined) {
    const { warehouse_id, product_id } = page.after;
    q = q.where(sql<boolean>`(warehouse_id, product_id) > (${warehouse_id}::uuid, ${product_id}::uuid)`);
  }
  q = q.orderBy('warehouse_id').orderBy('product_id');
  return page.limit === undefined ? q.execute() : q.limit(page.limit).execute();
}

/** One stock row's value; '0' when the row does not exist (no movement). */
export async function stockOf(
  db: Db | Trx,
  storeId: string,
  warehouseId: string,
  productId: string,
): Promise<string> {
  const row = await db
    .selectFrom('warehouse_stock')
    .select('stock')
    .where('store_id', '=', storeId)
    .where('warehouse_id', '=', warehouseId)
    .where('product_id', '=', productId)
    .executeTakeFirst();
  return row?.stock ?? '0';
}
