import { sql } from 'kysely';
import type { PayloadOf } from '../../domain/events/schemas';
import { linesOfSql } from '../repositories/sale-items';
import { markVoidedSql } from '../repositories/sales';
import { winningVoidsSql } from '../repositories/sale-voids';
import {
  deleteMovementsOf,
  insertMovementsSql,
  insertRestocksSql,
  type MovementRow,
} from '../repositories/stock-movements';
import { pruneStock, stockUpsertSql } from '../repositories/warehouse-stock';
import type { StoreKey } from '../repositories/recordset';
import { ofType, type ProjectionEvent, type ProjectionSink, type StockDelta, type Trx } from './types';

export type { MovementRow } from '../repositories/stock-movements';
export { pruneStock, stockUpsertSql } from '../repositories/warehouse-stock';

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
 * PN-counter: each movement is inserted once (keyed by store, event and line) and only the rows
 * actually inserted count towards warehouse_stock, so replays and re-projections never count twice.
 *
 * `voidedSales` are sales whose void state may have changed: the statement first sets each one's void
 * from its earliest SaleVoided and records one restock movement per line. The stock changes of the
 * rows really inserted go to `sink.stock`; the caller applies them with applyStock at the end of its
 * transaction.
 */
export async function recordMovements(
  trx: Trx,
  rows: MovementRow[],
  voidedSales: StoreKey[],
  sink: ProjectionSink,
): Promise<void> {
  if (rows.length === 0 && voidedSales.length === 0) return;
  const deltas = await sql<StockDelta>`
    WITH winner AS (${winningVoidsSql(voidedSales)}),
    voided AS (${markVoidedSql('winner')}),
    lines AS (${linesOfSql('voided')}),
    restock AS (${insertRestocksSql('lines')}),
    moved AS (${insertMovementsSql(rows)}),
    delta AS (
      SELECT store_id, warehouse_id, product_id, qty_delta FROM moved
      UNION ALL
      SELECT store_id, warehouse_id, product_id, qty_delta FROM restock WHERE inserted
    )
    SELECT store_id, warehouse_id, product_id, sum(qty_delta)::text AS qty FROM delta
    GROUP BY store_id, warehouse_id, product_id`.execute(trx);
  sink.stock.push(...deltas.rows);
}

/**
 * Adds the recorded stock deltas to warehouse_stock, then prunes rows left without any movement.
 * Callers put it last, right before commit (ingest folds the upsert into its tail statement with
 * stockUpsertSql and calls pruneStock itself).
 */
export async function applyStock(trx: Trx, sink: ProjectionSink): Promise<void> {
  if (sink.stock.length > 0) await sql`${stockUpsertSql(sink.stock)}`.execute(trx);
  await pruneStock(trx, sink.prune);
}

/**
 * Removes movements (and their effect on stock) when the event they came from lost its entity. The
 * negated quantities join the pending deltas; a stock row left without any movement is pruned after
 * them (pruneStock): it would not exist had the loser never arrived.
 */
export async function removeMovements(
  trx: Trx,
  events: { store_id: string; event_id: string }[],
  sink: ProjectionSink,
): Promise<void> {
  const removed = await deleteMovementsOf(trx, events);
  sink.stock.push(...removed);
  sink.prune.push(
    ...removed.map((r) => ({ store_id: r.store_id, warehouse_id: r.warehouse_id, product_id: r.product_id })),
  );
}
