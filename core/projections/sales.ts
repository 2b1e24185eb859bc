import { sql } from 'kysely';
import { recordMovements, removeMovements, warehouseOf, type MovementRow } from './stock';
import { firstPerId, lockSql, ofType, type ProjectionEvent, type ProjectionSink, type Trx } from './types';

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Sales are an add-wins set. A void is stored on its own (sale_voids) and joined to its sale by
 * whichever arrives last, so "void before sale" converges to the same rows as "sale then void".
 * Each sale line is a stock movement (-qty); a voided sale gets one +qty movement per line, keyed by
 * the sale's event and the negative line number, so several voids of one sale restock it once.
 */
export async function projectSales(
  trx: Trx,
  events: ProjectionEvent[],
  movements: MovementRow[],
  sink: ProjectionSink,
): Promise<void> {
  const creates = firstPerId(ofType(events, 'SaleCreated'), (e) => e.payload.sale_id);
  const voids = ofType(events, 'SaleVoided');
  if (creates.length === 0 && voids.length === 0) return;

  // A sale and its void may arrive in two concurrent requests: under READ COMMITTED neither would see
  // the other's uncommitted row and the void would never be applied. Serialise per sale id, in a fixed
  // order, before reading anything of these sales (recordMovements reads them, in a later statement).
  const touched = [
    ...new Set([...creates.map((e) => e.payload.sale_id), ...voids.map((e) => e.payload.sale_id)]),
  ].sort();
  const voidRows = voids.map((e) => ({
    event_id: e.event_id,
    sale_id: e.payload.sale_id,
    store_id: e.store_id,
    voided_at: e.payload.voided_at ?? e.created_at.toISOString(),
    reason: e.payload.reason ?? null,
  }));
  const inserted = await insertSales(trx, creates, touched, voidRows, sink);
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
  await recordMovements(trx, movements.splice(0), touched, sink);
}

type SaleEvent = ProjectionEvent<'SaleCreated'>;

/**
 * Takes the sale locks, stores the voids and inserts new sales with their lines, in one statement (it
 * only writes; ON CONFLICT copes with rows committed meanwhile). A sale id that already exists is
 * resolved in favour of the smallest event id, on the rare slow path.
 */
async function insertSales(
  trx: Trx,
  creates: SaleEvent[],
  touched: string[],
  voidRows: object[],
  sink: ProjectionSink,
): Promise<SaleEvent[]> {
  const first = await writeSales(trx, creates, touched, voidRows);
  const fresh = creates.filter((e) => first.has(e.payload.sale_id));
  const taken = creates.filter((e) => !first.has(e.payload.sale_id));
  if (taken.length === 0) return fresh;

  // Rare: a SaleCreated for a sale id that is already there (a re-projection, or two events claiming
  // one sale id). The smaller event id wins: undo the loser's rows, then insert the winner.
  const existing = await sql<{ id: string; event_id: string }>`
    SELECT id, event_id FROM sales WHERE id = ANY(${taken.map((e) => e.payload.sale_id)}::uuid[])`.execute(
    trx,
  );
  const holder = new Map(existing.rows.map((r) => [r.id, r.event_id]));
  const winners = taken.filter((e) => e.event_id.toLowerCase() < (holder.get(e.payload.sale_id) ?? ''));
  if (winners.length === 0) return fresh;
  const displaced = winners.map((e) => holder.get(e.payload.sale_id)!);
  await removeMovements(trx, displaced, sink);
  await sql`DELETE FROM sale_items WHERE sale_id = ANY(${winners.map((e) => e.payload.sale_id)}::uuid[])`.execute(
    trx,
  );
  await sql`DELETE FROM sales WHERE event_id = ANY(${displaced}::uuid[])`.execute(trx);
  await writeSales(trx, winners, [], []);
  return [...fresh, ...winners];
}

/** Returns the sale ids it inserted. */
async function writeSales(
  trx: Trx,
  creates: SaleEvent[],
  locks: string[],
  voidRows: object[],
): Promise<Set<string>> {
  const sales = creates.map((e) => {
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
  const items = creates.flatMap((e) =>
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
  const result = await sql<{ id: string }>`
    WITH locks AS (SELECT ${lockSql('sale', locks)}),
    voids AS (
      INSERT INTO sale_voids (event_id, sale_id, store_id, voided_at, reason)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(voidRows)}::jsonb)
        AS x(event_id uuid, sale_id uuid, store_id uuid, voided_at timestamptz, reason text)
      WHERE EXISTS (SELECT 1 FROM locks)
      ON CONFLICT (event_id) DO NOTHING
    ), s AS (
      INSERT INTO sales (id, store_id, device_id, event_id, warehouse_id, customer_id, session_id, total,
        payment_method, invoice_series_id, fiscal_number, sold_at, sold_by)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(sales)}::jsonb) AS x(
        id uuid, store_id uuid, device_id text, event_id uuid, warehouse_id uuid, customer_id uuid,
        session_id uuid, total numeric, payment_method text, invoice_series_id uuid, fiscal_number bigint,
        sold_at timestamptz, sold_by text)
      WHERE EXISTS (SELECT 1 FROM locks)
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), i AS (
      INSERT INTO sale_items (sale_id, line_no, store_id, product_id, qty, unit_price, line_total)
      SELECT y.* FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS y(
        sale_id uuid, line_no int, store_id uuid, product_id uuid, qty numeric, unit_price numeric, line_total numeric)
      WHERE y.sale_id IN (SELECT id FROM s)
    )
    SELECT id FROM s`.execute(trx);
  return new Set(result.rows.map((r) => r.id));
}
