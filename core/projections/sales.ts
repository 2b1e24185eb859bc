import { sql } from 'kysely';
import { applyMovements, removeMovements, warehouseOf, type MovementRow, type StockDelta } from './stock';
import { firstPerId, lockEntities, ofType, type ProjectionEvent, type Trx } from './types';

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Sales are an add-wins set. A void is stored on its own (sale_voids) and joined to its sale by
 * whichever arrives last, so "void before sale" converges to the same rows as "sale then void".
 * Each sale line is a stock movement (-qty); a voided sale gets one +qty movement per line, keyed by
 * the sale's event and the negative line number, so several voids of one sale restock it once.
 */
export async function projectSales(trx: Trx, events: ProjectionEvent[], movements: MovementRow[]): Promise<void> {
  const creates = firstPerId(ofType(events, 'SaleCreated'), (e) => e.payload.sale_id);
  const voids = ofType(events, 'SaleVoided');
  if (creates.length === 0 && voids.length === 0) return;

  // A sale and its void may arrive in two concurrent requests: under READ COMMITTED neither would see
  // the other's uncommitted row and the void would never be applied. Serialise per sale id, in a fixed
  // order, before reading or writing anything of these sales.
  const touched = [
    ...new Set([...creates.map((e) => e.payload.sale_id), ...voids.map((e) => e.payload.sale_id)]),
  ].sort();
  await lockEntities(trx, 'sale', touched);

  if (voids.length > 0) {
    const rows = voids.map((e) => ({
      event_id: e.event_id,
      sale_id: e.payload.sale_id,
      store_id: e.store_id,
      voided_at: e.payload.voided_at ?? e.created_at.toISOString(),
      reason: e.payload.reason ?? null,
    }));
    await sql`
      INSERT INTO sale_voids (event_id, sale_id, store_id, voided_at, reason)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS x(event_id uuid, sale_id uuid, store_id uuid, voided_at timestamptz, reason text)
      ON CONFLICT (event_id) DO NOTHING`.execute(trx);
  }

  const inserted = await insertSales(trx, creates);
  for (const e of inserted) {
    e.payload.items.forEach((item, i) =>
      movements.push({
        event_id: e.event_id,
        line_no: i + 1,
        store_id: e.store_id,
        warehouse_id: warehouseOf(e, e.payload.warehouse_id),
        product_id: item.product_id,
        qty_delta: -item.qty,
        kind: 'sale',
        occurred_at: e.created_at.toISOString(),
      }),
    );
  }
  // Every stock change of the batch (the other families' movements, these sales' lines and the
  // restocks of voided sales) goes into warehouse_stock in one statement, rows locked in key order:
  // two statements would let concurrent requests lock the same rows in opposite orders (deadlock).
  const restocks = await applyVoids(trx, touched);
  await applyMovements(trx, movements.splice(0), restocks);
}

/** Inserts new sales with their lines; resolves a reused sale id in favour of the smallest event id. */
async function insertSales(trx: Trx, creates: ProjectionEvent<'SaleCreated'>[]): Promise<ProjectionEvent<'SaleCreated'>[]> {
  if (creates.length === 0) return [];
  const existing = await sql<{ id: string; event_id: string }>`
    SELECT id, event_id FROM sales WHERE id = ANY(${creates.map((e) => e.payload.sale_id)}::uuid[])`.execute(trx);
  const current = new Map(existing.rows.map((r) => [r.id, r.event_id]));

  const fresh: ProjectionEvent<'SaleCreated'>[] = [];
  const displaced: string[] = [];
  const ids: string[] = [];
  for (const e of creates) {
    const holder = current.get(e.payload.sale_id);
    if (holder === undefined) fresh.push(e);
    else if (e.event_id.toLowerCase() < holder) {
      displaced.push(holder);
      ids.push(e.payload.sale_id);
      fresh.push(e);
    }
  }
  if (displaced.length > 0) {
    // Rare: two SaleCreated events for one sale id. Undo the loser's rows, then insert the winner.
    await removeMovements(trx, displaced);
    await sql`DELETE FROM sale_items WHERE sale_id = ANY(${ids}::uuid[])`.execute(trx);
    await sql`DELETE FROM sales WHERE event_id = ANY(${displaced}::uuid[])`.execute(trx);
  }
  if (fresh.length === 0) return [];

  const sales = fresh.map((e) => {
    const p = e.payload;
    const computed = p.items.reduce((sum, item) => sum + item.qty * item.unit_price, 0);
    return {
      id: p.sale_id,
      store_id: e.store_id,
      device_id: e.device_id,
      event_id: e.event_id,
      warehouse_id: warehouseOf(e, p.warehouse_id),
      customer_id: p.customer_id ?? null,
      session_id: p.session_id ?? null,
      total: p.total ?? p.total_amount ?? round2(computed),
      payment_method: p.payment_method ?? null,
      invoice_series_id: p.invoice_series_id ?? null,
      fiscal_number: p.fiscal_number ?? null,
      sold_at: e.created_at.toISOString(),
      sold_by: e.actor_user_id,
    };
  });
  const items = fresh.flatMap((e) =>
    e.payload.items.map((item, i) => ({
      sale_id: e.payload.sale_id,
      line_no: i + 1,
      store_id: e.store_id,
      product_id: item.product_id,
      qty: item.qty,
      unit_price: item.unit_price,
      line_total: round2(item.qty * item.unit_price),
    })),
  );
  await sql`
    WITH s AS (
      INSERT INTO sales (id, store_id, device_id, event_id, warehouse_id, customer_id, session_id, total,
        payment_method, invoice_series_id, fiscal_number, sold_at, sold_by)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(sales)}::jsonb) AS x(
        id uuid, store_id uuid, device_id text, event_id uuid, warehouse_id uuid, customer_id uuid,
        session_id uuid, total numeric, payment_method text, invoice_series_id uuid, fiscal_number bigint,
        sold_at timestamptz, sold_by text)
    )
    INSERT INTO sale_items (sale_id, line_no, store_id, product_id, qty, unit_price, line_total)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS y(
      sale_id uuid, line_no int, store_id uuid, product_id uuid, qty numeric, unit_price numeric, line_total numeric)`.execute(
    trx,
  );
  return fresh;
}

/**
 * Sets each touched sale's void from its earliest void event and records one restock movement per
 * line, once. Returns the restock movements it inserted, for the caller to add to warehouse_stock.
 */
async function applyVoids(trx: Trx, saleIds: string[]): Promise<StockDelta[]> {
  if (saleIds.length === 0) return [];
  const restocks = await sql<StockDelta>`
    WITH winner AS (
      SELECT DISTINCT ON (sale_id) sale_id, event_id, voided_at, reason
      FROM sale_voids WHERE sale_id = ANY(${saleIds}::uuid[])
      ORDER BY sale_id, voided_at, event_id
    ), v AS (
      UPDATE sales s SET voided_at = w.voided_at, void_event_id = w.event_id, void_reason = w.reason
      FROM winner w
      WHERE s.id = w.sale_id AND s.void_event_id IS DISTINCT FROM w.event_id
      RETURNING s.id, s.event_id, s.store_id, s.warehouse_id, s.voided_at
    ), ins AS (
      INSERT INTO stock_movements (event_id, line_no, store_id, warehouse_id, product_id, qty_delta, kind, occurred_at)
      SELECT v.event_id, -si.line_no, v.store_id, v.warehouse_id, si.product_id, si.qty, 'void', v.voided_at
      FROM v JOIN sale_items si ON si.sale_id = v.id
      ON CONFLICT (event_id, line_no) DO UPDATE SET occurred_at = excluded.occurred_at
      WHERE stock_movements.occurred_at > excluded.occurred_at
      RETURNING store_id, warehouse_id, product_id, qty_delta, (xmax = 0) AS inserted
    )
    SELECT store_id, warehouse_id, product_id, qty_delta FROM ins WHERE inserted`.execute(trx);
  return restocks.rows;
}
