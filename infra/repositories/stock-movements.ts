import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, StockMovementsTable } from '../db/schema';
import type { StockDelta, Trx } from '../projections/types';
import { columnList, recordset, type ColumnMap } from './recordset';

type Executor = Db | Transaction<Database>;

export const STOCK_MOVEMENT_COLUMNS = {
  store_id: 'uuid',
  event_id: 'uuid',
  line_no: 'int',
  warehouse_id: 'uuid',
  product_id: 'uuid',
  qty_delta: 'numeric',
  kind: 'text',
  occurred_at: 'timestamptz',
} as const satisfies ColumnMap<StockMovementsTable>;

export type MovementRow = {
  store_id: string;
  event_id: string;
  line_no: number;
  warehouse_id: string;
  product_id: string;
  qty_delta: number;
  kind: string;
  occurred_at: string;
};

/** CTE body: each movement once (keyed by store, event and line); returns the rows really inserted. */
export function insertMovementsSql(rows: MovementRow[]) {
  const cols = columnList(STOCK_MOVEMENT_COLUMNS);
  return sql`
    INSERT INTO stock_movements (${cols})
    SELECT ${cols} FROM ${recordset(STOCK_MOVEMENT_COLUMNS, rows)}
    ON CONFLICT (store_id, event_id, line_no) DO NOTHING
    RETURNING store_id, warehouse_id, product_id, qty_delta`;
}

/**
 * CTE body: one restock movement per line of each voided sale in `lines` (store_id, event_id,
 * warehouse_id, voided_at, line_no, product_id, qty), keyed by the sale's event and the negative
 * line number so several voids restock once; a later-arriving earlier void moves its time back.
 * Returns every row touched, with `inserted` telling new rows from updated ones.
 */
export function insertRestocksSql(lines: string) {
  return sql`
    INSERT INTO stock_movements (store_id, event_id, line_no, warehouse_id, product_id, qty_delta, kind, occurred_at)
    SELECT l.store_id, l.event_id, -l.line_no, l.warehouse_id, l.product_id, l.qty, 'void', l.voided_at
    FROM ${sql.table(lines)} l
    ON CONFLICT (store_id, event_id, line_no) DO UPDATE SET occurred_at = excluded.occurred_at
    WHERE stock_movements.occurred_at > excluded.occurred_at
    RETURNING store_id, warehouse_id, product_id, qty_delta, (xmax = 0) AS inserted`;
}

/** Deletes the movements of these events (of their store) and returns the stock change that undoes them. */
export async function deleteMovementsOf(
  trx: Trx,
  events: { store_id: string; event_id: string }[],
): Promise<StockDelta[]> {
  if (events.length === 0) return [];
  const r = await sql<StockDelta>`
    WITH del AS (
      DELETE FROM stock_movements m
      USING unnest(${events.map((e) => e.store_id)}::uuid[], ${events.map((e) => e.event_id)}::uuid[]) AS k(store_id, event_id)
      WHERE (m.store_id, m.event_id) = (k.store_id, k.event_id)
      RETURNING m.store_id, m.warehouse_id, m.product_id, m.qty_delta
    )
    SELECT store_id, warehouse_id, product_id, (-sum(qty_delta))::text AS qty FROM del GROUP BY 1, 2, 3`.execute(
    trx,
  );
  return r.rows;
}

/** A predicate: `alias` (with store_id, warehouse_id, product_id) still has a movement. */
export function hasMovementSql(alias: string) {
  return sql`EXISTS (
    SELECT 1 FROM stock_movements m
    WHERE (m.store_id, m.warehouse_id, m.product_id) = (${sql.ref(`${alias}.store_id`)}, ${sql.ref(
      `${alias}.warehouse_id`,
    )}, ${sql.ref(`${alias}.product_id`)}))`;
}

/**
 * A product's stock movements that came from events which entered the federation at `nodeId`
 * (sales, receipts, adjustments and restocks alike): that node's share of the stock. The shares of
 * all nodes add up to the stock; escrow rights start from it (docs/escrow.md).
 */
export async function stockShareOf(
  db: Executor,
  storeId: string,
  productId: string,
  nodeId: string,
): Promise<number> {
  const r = await sql<{ share: string }>`
    SELECT coalesce(sum(m.qty_delta), 0)::text AS share
    FROM stock_movements m JOIN events e ON e.event_id = m.event_id
    WHERE m.store_id = ${storeId} AND m.product_id = ${productId} AND e.origin_node = ${nodeId}`.execute(db);
  return Number(r.rows[0]!.share);
}

/**
 * The movements of one stock row, newest first (at most `limit`), and the count and sum of the older
 * ones left out: the row's stock is the sum of both (read them in one snapshot transaction).
 */
export async function movementsOf(
  db: Db | Trx,
  key: { store_id: string; warehouse_id: string; product_id: string },
  limit: number,
) {
  const of = db
    .selectFrom('stock_movements')
    .where('store_id', '=', key.store_id)
    .where('warehouse_id', '=', key.warehouse_id)
    .where('product_id', '=', key.product_id);
  const shown = await of
    .selectAll()
    .orderBy('occurred_at', 'desc')
    .orderBy('event_id')
    .orderBy('line_no')
    .limit(limit)
    .execute();
  const rest = await sql<{ n: string; qty: string }>`
    SELECT count(*) AS n, coalesce(sum(o.qty_delta), 0)::text AS qty FROM (
      SELECT qty_delta FROM stock_movements
      WHERE store_id = ${key.store_id} AND warehouse_id = ${key.warehouse_id} AND product_id = ${key.product_id}
      ORDER BY occurred_at DESC, event_id, line_no OFFSET ${limit}
    ) o`.execute(db);
  return { shown, omitted: { count: Number(rest.rows[0]!.n), qty: rest.rows[0]!.qty } };
}
