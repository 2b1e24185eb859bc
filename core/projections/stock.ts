import { sql } from 'kysely';
import type { PayloadOf } from '../events/schemas';
import { ofType, type ProjectionEvent, type ProjectionSink, type StockDelta, type Trx } from './types';

export interface MovementRow {
  event_id: string;
  line_no: number;
  store_id: string;
  warehouse_id: string;
  product_id: string;
  qty_delta: number;
  kind: string;
  occurred_at: string;
}

/** A store's default warehouse has the store's own id, so events may leave warehouse_id out. */
export function warehouseOf(e: ProjectionEvent, warehouseId: string | null | undefined): string {
  return warehouseId ?? e.store_id;
}

export function stockMovementsOf(events: ProjectionEvent[]): MovementRow[] {
  const rows: MovementRow[] = [];
  for (const e of ofType(events, 'StockReceived', 'StockAdjusted', 'StockDeltaApplied')) {
    const p = e.payload;
    const qty =
      e.type === 'StockReceived'
        ? (p as PayloadOf<'StockReceived'>).qty
        : (p as PayloadOf<'StockAdjusted'>).qty_delta;
    rows.push({
      event_id: e.event_id,
      line_no: 0,
      store_id: e.store_id,
      warehouse_id: warehouseOf(e, p.warehouse_id),
      product_id: p.product_id,
      qty_delta: qty,
      kind: e.type === 'StockReceived' ? 'received' : e.type === 'StockAdjusted' ? 'adjusted' : 'delta',
      occurred_at: e.created_at.toISOString(),
    });
  }
  return rows;
}

/**
 * PN-counter: each movement is inserted once (keyed by event and line) and only the rows actually
 * inserted count towards warehouse_stock, so replays and re-projections never count twice.
 *
 * `voidedSales` are sales whose void state may have changed: the statement first sets each one's void
 * from its earliest SaleVoided and records one restock movement per line (keyed by the sale's event
 * and the negative line number, so several voids restock once). The stock changes of the rows really
 * inserted go to `sink.stock`; the caller applies them with applyStock at the end of its transaction.
 */
export async function recordMovements(
  trx: Trx,
  rows: MovementRow[],
  voidedSales: string[],
  sink: ProjectionSink,
): Promise<void> {
  if (rows.length === 0 && voidedSales.length === 0) return;
  const deltas = await sql<StockDelta>`
    WITH winner AS (
      SELECT DISTINCT ON (sale_id) sale_id, event_id, voided_at, reason
      FROM sale_voids WHERE sale_id = ANY(${voidedSales}::uuid[])
      ORDER BY sale_id, voided_at, event_id
    ), voided AS (
      UPDATE sales s SET voided_at = w.voided_at, void_event_id = w.event_id, void_reason = w.reason
      FROM winner w
      WHERE s.id = w.sale_id AND s.void_event_id IS DISTINCT FROM w.event_id
      RETURNING s.id, s.event_id, s.store_id, s.warehouse_id, s.voided_at
    ), restock AS (
      INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
      SELECT v.event_id, -si.line_no, v.store_id, v.warehouse_id, si.product_id, si.qty, 'void', v.voided_at
      FROM voided v JOIN sale_items si ON si.sale_id = v.id
      ON CONFLICT (event_id, line_no) DO UPDATE SET occurred_at = excluded.occurred_at
      WHERE stock_movements.occurred_at > excluded.occurred_at
      RETURNING store_id, warehouse_id, product_id, qty_delta, (xmax = 0) AS inserted
    ), moved AS (
      INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
        event_id uuid, line_no int, store_id uuid, warehouse_id uuid, product_id uuid,
        qty_delta numeric, kind text, occurred_at timestamptz)
      ON CONFLICT (event_id, line_no) DO NOTHING
      RETURNING store_id, warehouse_id, product_id, qty_delta
    ), delta AS (
      SELECT store_id, warehouse_id, product_id, qty_delta FROM moved
      UNION ALL
      SELECT store_id, warehouse_id, product_id, qty_delta FROM restock WHERE inserted
    )
    SELECT store_id, warehouse_id, product_id, sum(qty_delta)::text AS qty FROM delta
    GROUP BY store_id, warehouse_id, product_id`.execute(trx);
  sink.stock.push(...deltas.rows);
}

/**
 * Adds the recorded stock deltas to warehouse_stock, one row per (store, warehouse, product), locked
 * in key order so concurrent transactions cannot deadlock on them, then prunes rows left without any
 * movement. Callers put it last, right before commit (ingest folds the upsert into its tail statement
 * with stockUpsertSql and calls pruneStock itself).
 */
export async function applyStock(trx: Trx, sink: ProjectionSink): Promise<void> {
  if (sink.stock.length > 0) await sql`${stockUpsertSql(sink.stock)}`.execute(trx);
  await pruneStock(trx, sink.prune);
}

/** The warehouse_stock upsert for a set of deltas, as a statement or a data-modifying CTE body. */
export function stockUpsertSql(deltas: StockDelta[], guard = sql`TRUE`) {
  return sql`
    INSERT INTO warehouse_stock (store_id, warehouse_id, product_id, stock)
    SELECT store_id, warehouse_id, product_id, sum(qty) FROM jsonb_to_recordset(${JSON.stringify(deltas)}::jsonb)
      AS d(store_id uuid, warehouse_id uuid, product_id uuid, qty numeric)
    WHERE ${guard}
    GROUP BY store_id, warehouse_id, product_id
    ORDER BY store_id, warehouse_id, product_id
    ON CONFLICT (store_id, warehouse_id, product_id)
    DO UPDATE SET stock = warehouse_stock.stock + excluded.stock`;
}

/**
 * Removes movements (and their effect on stock) when the event they came from lost its entity. The
 * negated quantities join the pending deltas; a stock row left without any movement is pruned after
 * them (pruneStock): it would not exist had the loser never arrived.
 */
export async function removeMovements(trx: Trx, eventIds: string[], sink: ProjectionSink): Promise<void> {
  if (eventIds.length === 0) return;
  const removed = await sql<StockDelta>`
    WITH del AS (
      DELETE FROM stock_movements WHERE event_id = ANY(${eventIds}::uuid[])
      RETURNING store_id, warehouse_id, product_id, qty_delta
    )
    SELECT store_id, warehouse_id, product_id, (-sum(qty_delta))::text AS qty FROM del GROUP BY 1, 2, 3`.execute(
    trx,
  );
  sink.stock.push(...removed.rows);
  sink.prune.push(
    ...removed.rows.map((r) => ({
      store_id: r.store_id,
      warehouse_id: r.warehouse_id,
      product_id: r.product_id,
    })),
  );
}

/** Deletes the given stock rows if no movement is left for them. */
export async function pruneStock(trx: Trx, keys: ProjectionSink['prune']): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    DELETE FROM warehouse_stock ws
    USING jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) AS k(store_id uuid, warehouse_id uuid, product_id uuid)
    WHERE (ws.store_id, ws.warehouse_id, ws.product_id) = (k.store_id, k.warehouse_id, k.product_id)
      AND NOT EXISTS (
        SELECT 1 FROM stock_movements m
        WHERE (m.store_id, m.warehouse_id, m.product_id) = (ws.store_id, ws.warehouse_id, ws.product_id))`.execute(
    trx,
  );
}
