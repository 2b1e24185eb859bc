import type { Selectable } from 'kysely';
import type {
  CashSessionOut,
  CustomerOut,
  DebtOut,
  PageQuery,
  ProductOut,
  SaleOut,
  StockOut,
} from '../../domain/wire/store-queries';
import type { Db } from '../db';
import type {
  CashLedgerEntriesTable,
  CashSessionsTable,
  CustomersTable,
  DebtPaymentsTable,
  DebtsTable,
  ProductsTable,
  SaleItemsTable,
  SalesTable,
  WarehouseStockTable,
} from '../db/schema';
import type { Trx } from '../projections/types';
import { entriesOfSessions } from '../repositories/cash-ledger-entries';
import { listCashSessions } from '../repositories/cash-sessions';
import { listCustomers } from '../repositories/customers';
import { paymentsOfDebts } from '../repositories/debt-payments';
import { listDebts } from '../repositories/debts';
import { listProducts } from '../repositories/products';
import { linesOfSales } from '../repositories/sale-items';
import { listSalesBetween } from '../repositories/sales';
import { listStock } from '../repositories/warehouse-stock';
import { decodeCursor, pageOf } from './cursor';

// The store's read models as the wire shows them (domain/wire/store-queries.ts): each list is one
// keyset page of its table plus the child rows of that page (payments, lines, ledger), in two
// statements whatever the page size.

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

type Executor = Db | Trx;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const groupBy = <R, K extends keyof R>(rows: R[], key: K) => {
  const out = new Map<R[K], R[]>();
  for (const r of rows) out.set(r[key], [...(out.get(r[key]) ?? []), r]);
  return out;
};

// A field never written (an entity known only through updates) reads as its create default.
export function productOut(r: Selectable<ProductsTable>): ProductOut {
  return {
    id: r.id,
    name: r.name,
    sku: r.sku,
    barcode: r.barcode,
    price: r.price,
    cost: r.cost,
    category: r.category,
    unit: r.unit,
    track_inventory: r.track_inventory ?? true,
    active: r.active ?? true,
  };
}

export function stockOut(
  r: Pick<Selectable<WarehouseStockTable>, 'warehouse_id' | 'product_id' | 'stock'>,
): StockOut {
  return { warehouse_id: r.warehouse_id, product_id: r.product_id, quantity: r.stock };
}

export function customerOut(r: Selectable<CustomersTable>): CustomerOut {
  const { store_id: _s, field_stamps: _f, ...rest } = r;
  return { ...rest, active: r.active ?? true };
}

function debtsOut(debts: Selectable<DebtsTable>[], payments: Selectable<DebtPaymentsTable>[]): DebtOut[] {
  const byDebt = groupBy(payments, 'debt_id');
  return debts.map((d) => ({
    id: d.id,
    event_id: d.event_id,
    customer_id: d.customer_id,
    sale_id: d.sale_id,
    total_amount: d.total_amount,
    paid_amount: d.paid_amount,
    remaining_amount: d.remaining_amount,
    status: d.status as DebtOut['status'],
    notes: d.notes,
    due_date: d.due_date,
    created_at: d.created_at.toISOString(),
    created_by: d.created_by,
    payments: (byDebt.get(d.id) ?? []).map((p) => ({
      id: p.id,
      event_id: p.event_id,
      amount: p.amount,
      payment_method: p.payment_method,
      paid_at: p.paid_at.toISOString(),
      paid_by: p.paid_by,
      notes: p.notes,
    })),
  }));
}

function salesOut(sales: Selectable<SalesTable>[], lines: Selectable<SaleItemsTable>[]): SaleOut[] {
  const bySale = groupBy(lines, 'sale_id');
  return sales.map((s) => ({
    id: s.id,
    event_id: s.event_id,
    device_id: s.device_id,
    warehouse_id: s.warehouse_id,
    customer_id: s.customer_id,
    session_id: s.session_id,
    total: s.total,
    payment_method: s.payment_method,
    invoice_series_id: s.invoice_series_id,
    fiscal_number: s.fiscal_number === null ? null : Number(s.fiscal_number),
    sold_at: s.sold_at.toISOString(),
    sold_by: s.sold_by,
    voided: s.void_event_id !== null,
    voided_at: iso(s.voided_at),
    void_event_id: s.void_event_id,
    void_reason: s.void_reason,
    lines: (bySale.get(s.id) ?? []).map((l) => ({
      line_no: l.line_no,
      product_id: l.product_id,
      qty: l.qty,
      unit_price: l.unit_price,
      line_total: l.line_total,
    })),
  }));
}

function sessionsOut(
  sessions: Selectable<CashSessionsTable>[],
  entries: Selectable<CashLedgerEntriesTable>[],
): CashSessionOut[] {
  const bySession = groupBy(entries, 'session_id');
  return sessions.map((s) => ({
    id: s.id,
    device_id: s.device_id,
    status: s.closed_at === null ? 'open' : 'closed',
    opened_at: iso(s.opened_at),
    opened_by: s.opened_by,
    opening_amount: s.opening_amount,
    closed_at: iso(s.closed_at),
    closed_by: s.closed_by,
    closing_amount: s.closing_amount,
    expected_amount: s.expected_amount,
    notes: s.notes,
    ledger: (bySession.get(s.id) ?? []).map((e) => ({
      id: e.id,
      event_id: e.event_id,
      kind: e.kind,
      amount: e.amount,
      reason: e.reason,
      occurred_at: e.occurred_at.toISOString(),
      recorded_by: e.recorded_by,
    })),
  }));
}

export async function productsPage(db: Executor, storeId: string, q: PageQuery): Promise<Page<ProductOut>> {
  const [after] = decodeCursor('products', 1, q.cursor) ?? [];
  const rows = await listProducts(db, storeId, { after, limit: q.limit + 1 });
  const page = pageOf(rows, q.limit, 'products', (r) => [r.id]);
  return { items: page.rows.map(productOut), next_cursor: page.next_cursor };
}

export async function stockPage(db: Executor, storeId: string, q: PageQuery): Promise<Page<StockOut>> {
  const key = decodeCursor('stock', 2, q.cursor);
  const after = key ? { warehouse_id: key[0]!, product_id: key[1]! } : undefined;
  const rows = await listStock(db, storeId, { after, limit: q.limit + 1 });
  const page = pageOf(rows, q.limit, 'stock', (r) => [r.warehouse_id, r.product_id]);
  return { items: page.rows.map(stockOut), next_cursor: page.next_cursor };
}

export async function customersPage(db: Executor, storeId: string, q: PageQuery): Promise<Page<CustomerOut>> {
  const [after] = decodeCursor('customers', 1, q.cursor) ?? [];
  const rows = await listCustomers(db, storeId, { after, limit: q.limit + 1 });
  const page = pageOf(rows, q.limit, 'customers', (r) => [r.id]);
  return { items: page.rows.map(customerOut), next_cursor: page.next_cursor };
}

export async function debtsPage(
  db: Executor,
  storeId: string,
  q: PageQuery & { status?: DebtOut['status'] },
): Promise<Page<DebtOut>> {
  const [after] = decodeCursor('debts', 1, q.cursor) ?? [];
  const rows = await listDebts(db, storeId, { after, limit: q.limit + 1, status: q.status });
  const page = pageOf(rows, q.limit, 'debts', (r) => [r.id]);
  const payments = await paymentsOfDebts(
    db,
    storeId,
    page.rows.map((d) => d.id),
  );
  return { items: debtsOut(page.rows, payments), next_cursor: page.next_cursor };
}

/** The sales of one UTC day (YYYY-MM-DD), by time. */
export async function salesPage(
  db: Executor,
  storeId: string,
  q: PageQuery & { day: string },
): Promise<Page<SaleOut>> {
  const [after] = decodeCursor('sales', 1, q.cursor) ?? [];
  const from = new Date(`${q.day}T00:00:00.000Z`);
  const to = new Date(from.getTime() + 86_400_000);
  const rows = await listSalesBetween(db, storeId, { from, to, after, limit: q.limit + 1 });
  const page = pageOf(rows, q.limit, 'sales', (r) => [r.id]);
  const lines = await linesOfSales(
    db,
    storeId,
    page.rows.map((s) => s.id),
  );
  return { items: salesOut(page.rows, lines), next_cursor: page.next_cursor };
}

export async function cashSessionsPage(
  db: Executor,
  storeId: string,
  q: PageQuery & { status?: 'open' | 'closed' },
): Promise<Page<CashSessionOut>> {
  const [after] = decodeCursor('cash-sessions', 1, q.cursor) ?? [];
  const open = q.status === undefined ? undefined : q.status === 'open';
  const rows = await listCashSessions(db, storeId, { after, limit: q.limit + 1, open });
  const page = pageOf(rows, q.limit, 'cash-sessions', (r) => [r.id]);
  const entries = await entriesOfSessions(
    db,
    storeId,
    page.rows.map((s) => s.id),
  );
  return { items: sessionsOut(page.rows, entries), next_cursor: page.next_cursor };
}

/** Unpaid debts with their payments, whole (the snapshot). */
export async function unpaidDebts(db: Executor, storeId: string): Promise<DebtOut[]> {
  const debts = await listDebts(db, storeId, { unpaid: true });
  return debtsOut(
    debts,
    await paymentsOfDebts(
      db,
      storeId,
      debts.map((d) => d.id),
    ),
  );
}

/** Sessions not closed with their ledger, whole (the snapshot). */
export async function openCashSessions(db: Executor, storeId: string): Promise<CashSessionOut[]> {
  const sessions = await listCashSessions(db, storeId, { open: true });
  return sessionsOut(
    sessions,
    await entriesOfSessions(
      db,
      storeId,
      sessions.map((s) => s.id),
    ),
  );
}
