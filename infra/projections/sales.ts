import { sql } from 'kysely';
import { keyText, uniqueKeys, type StoreKey } from '../repositories/recordset';
import { deleteSaleItems, insertSaleItemsSql, type SaleItemRow } from '../repositories/sale-items';
import { insertSaleVoidsSql, type SaleVoidRow } from '../repositories/sale-voids';
import { deleteSales, insertSalesSql, saleHolders, type SaleRow } from '../repositories/sales';
import { recordMovements, removeMovements, warehouseOf, type MovementRow } from './stock';
import { firstPerId, lockSql, ofType, type ProjectionEvent, type ProjectionSink, type Trx } from './types';

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Sales are an add-wins set per store. A void is stored on its own (sale_voids) and joined to its
 * sale by whichever arrives last, so "void before sale" converges to the same rows as "sale then
 * void". Each sale line is a stock movement (-qty); a voided sale gets one +qty movement per line,
 * keyed by the sale's event and the negative line number, so several voids of one sale restock it once.
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
  // the other's uncommitted row and the void would never be applied. Serialise per (store, sale), in a
  // fixed order, before reading anything of these sales (recordMovements reads them, in a later
  // statement).
  const touched = uniqueKeys([
    ...creates.map((e) => ({ store_id: e.store_id, id: e.payload.sale_id })),
    ...voids.map((e) => ({ store_id: e.store_id, id: e.payload.sale_id })),
  ]);
  const voidRows: SaleVoidRow[] = voids.map((e) => ({
    store_id: e.store_id,
    event_id: e.event_id,
    sale_id: e.payload.sale_id,
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
const saleKey = (e: SaleEvent): StoreKey => ({ store_id: e.store_id, id: e.payload.sale_id });

/**
 * Takes the sale locks, stores the voids and inserts new sales with their lines, in one statement (it
 * only writes; ON CONFLICT copes with rows committed meanwhile). A sale that already exists in its
 * store is resolved in favour of the smallest event id, on the rare slow path.
 */
async function insertSales(
  trx: Trx,
  creates: SaleEvent[],
  touched: StoreKey[],
  voidRows: SaleVoidRow[],
  sink: ProjectionSink,
): Promise<SaleEvent[]> {
  const first = await writeSales(trx, creates, touched, voidRows);
  const fresh = creates.filter((e) => first.has(keyText(saleKey(e))));
  const taken = creates.filter((e) => !first.has(keyText(saleKey(e))));
  if (taken.length === 0) return fresh;

  // Rare: a SaleCreated for a sale that is already there (a re-projection, or two events claiming
  // one sale id in one store). The smaller event id wins: undo the loser's rows, then insert the winner.
  const holder = await saleHolders(trx, taken.map(saleKey));
  const winners = taken.filter((e) => e.event_id.toLowerCase() < (holder.get(keyText(saleKey(e))) ?? ''));
  if (winners.length === 0) return fresh;
  await removeMovements(
    trx,
    winners.map((e) => ({ store_id: e.store_id, event_id: holder.get(keyText(saleKey(e)))! })),
    sink,
  );
  await deleteSaleItems(trx, winners.map(saleKey));
  await deleteSales(trx, winners.map(saleKey));
  await writeSales(trx, winners, [], []);
  return [...fresh, ...winners];
}

/** Returns the (store, sale) keys it inserted, as keyText. */
async function writeSales(
  trx: Trx,
  creates: SaleEvent[],
  locks: StoreKey[],
  voidRows: SaleVoidRow[],
): Promise<Set<string>> {
  const sales: SaleRow[] = creates.map((e) => {
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
  const items: SaleItemRow[] = creates.flatMap((e) =>
    e.payload.items.map((item, i) => ({
      store_id: e.store_id,
      sale_id: e.payload.sale_id,
      line_no: i + 1,
      product_id: item.product_id,
      qty: item.qty,
      unit_price: item.unit_price,
      line_total: round2(item.qty * item.unit_price),
    })),
  );
  const guard = sql`EXISTS (SELECT 1 FROM locks)`;
  const result = await sql<StoreKey>`
    WITH locks AS (SELECT ${lockSql('sale', locks.map(keyText))}),
    voids AS (${insertSaleVoidsSql(voidRows, guard)}),
    s AS (${insertSalesSql(sales, guard)}),
    i AS (${insertSaleItemsSql(items, 's')})
    SELECT store_id, id FROM s`.execute(trx);
  return new Set(result.rows.map(keyText));
}
