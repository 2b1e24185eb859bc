import { sql } from 'kysely';
import type { PayloadOf } from '../events/schemas';
import { ofType, type ProjectionEvent, type Trx } from './types';

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
    const qty = e.type === 'StockReceived' ? (p as PayloadOf<'StockReceived'>).qty : (p as PayloadOf<'StockAdjusted'>).qty_delta;
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

/** A movement already inserted into stock_movements whose quantity still has to reach warehouse_stock. */
export interface StockDelta {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  qty_delta: number | string;
}

/**
 * PN-counter: each movement is inserted once (keyed by event and line) and only the rows actually
 * inserted are added to warehouse_stock, so replays and re-projections never count twice.
 * `recorded` are movements the caller already inserted; they are added to stock in the same statement.
 */
export async function applyMovements(trx: Trx, rows: MovementRow[], recorded: StockDelta[] = []): Promise<void> {
  if (rows.length === 0 && recorded.length === 0) return;
  await sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
        event_id uuid, line_no int, store_id uuid, warehouse_id uuid, product_id uuid,
        qty_delta numeric, kind text, occurred_at timestamptz)
    ), ins AS (
      INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
      SELECT event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at FROM input
      ON CONFLICT (event_id, line_no) DO NOTHING
      RETURNING store_id, warehouse_id, product_id, qty_delta
    ), delta AS (
      SELECT * FROM ins
      UNION ALL
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(recorded)}::jsonb) AS r(
        store_id uuid, warehouse_id uuid, product_id uuid, qty_delta numeric)
    )
    INSERT INTO warehouse_stock (store_id, warehouse_id, product_id, stock)
    SELECT store_id, warehouse_id, product_id, sum(qty_delta) FROM delta
    GROUP BY store_id, warehouse_id, product_id
    ORDER BY store_id, warehouse_id, product_id
    ON CONFLICT (store_id, warehouse_id, product_id)
    DO UPDATE SET stock = warehouse_stock.stock + excluded.stock`.execute(trx);
}

/**
 * Removes movements (and their effect on stock) when the event they came from lost its entity. A
 * stock row left without any movement is deleted: it would not exist had the loser never arrived.
 */
export async function removeMovements(trx: Trx, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  const touched = await sql<{ store_id: string; warehouse_id: string; product_id: string }>`
    WITH del AS (
      DELETE FROM stock_movements WHERE event_id = ANY(${eventIds}::uuid[])
      RETURNING store_id, warehouse_id, product_id, qty_delta
    ), total AS (
      SELECT store_id, warehouse_id, product_id, sum(qty_delta) AS qty FROM del GROUP BY 1, 2, 3
    )
    UPDATE warehouse_stock ws SET stock = ws.stock - total.qty
    FROM total
    WHERE ws.store_id = total.store_id AND ws.warehouse_id = total.warehouse_id AND ws.product_id = total.product_id
    RETURNING ws.store_id, ws.warehouse_id, ws.product_id`.execute(trx);
  if (touched.rows.length === 0) return;
  await sql`
    DELETE FROM warehouse_stock ws
    USING jsonb_to_recordset(${JSON.stringify(touched.rows)}::jsonb) AS k(store_id uuid, warehouse_id uuid, product_id uuid)
    WHERE (ws.store_id, ws.warehouse_id, ws.product_id) = (k.store_id, k.warehouse_id, k.product_id)
      AND NOT EXISTS (
        SELECT 1 FROM stock_movements m
        WHERE (m.store_id, m.warehouse_id, m.product_id) = (ws.store_id, ws.warehouse_id, ws.product_id))`.execute(
    trx,
  );
}
