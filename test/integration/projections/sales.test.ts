import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, stockDivergence, tableDigest } from '../../support/projections';
import type { Db } from '../../../infra/db';
import type { SyncEvent } from '../../../domain/events/schemas';

const HOUR = 3_600_000;
const SALE_TABLES = ['sales', 'sale_items', 'sale_voids', 'stock_movements', 'warehouse_stock'];

let a: TestDatabase;
let b: TestDatabase;

beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase('sales_a'), createTestDatabase('sales_b')]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

async function stockOf(db: Db, storeId: string, productId: string, warehouseId = storeId): Promise<number> {
  const row = await db
    .selectFrom('warehouse_stock')
    .select('stock')
    .where('store_id', '=', storeId)
    .where('warehouse_id', '=', warehouseId)
    .where('product_id', '=', productId)
    .executeTakeFirst();
  return row ? Number(row.stock) : NaN;
}

async function tablesOf(db: Db, storeId: string) {
  const out: Record<string, unknown[]> = {};
  for (const t of SALE_TABLES) {
    out[t] = (
      await sql<{
        row: string;
      }>`SELECT t::text AS row FROM ${sql.table(t)} t WHERE store_id = ${storeId} ORDER BY 1`.execute(db)
    ).rows;
  }
  return out;
}

function scenario() {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const product = randomUUID();
  const warehouse = randomUUID();
  const sale = device.event('SaleCreated', {
    sale_id: randomUUID(),
    warehouse_id: warehouse,
    items: [
      { product_id: product, qty: 2, unit_price: 10 },
      { product_id: product, qty: 1.5, unit_price: 4 },
    ],
  });
  const saleId = (sale.payload as { sale_id: string }).sale_id;
  // Voids land in later hour buckets than the sale, so their pushes share no anti-entropy digest row
  // (whose row lock would otherwise serialise concurrent pushes).
  const saleAt = Date.parse(sale.created_at);
  const void1 = device.event(
    'SaleVoided',
    { sale_id: saleId, reason: 'wrong item' },
    { at: saleAt + 2 * HOUR },
  );
  const void2 = new DeviceSim(store).event(
    'SaleVoided',
    { sale_id: saleId, reason: 'again, from another till' },
    { at: saleAt + 3 * HOUR },
  );
  return { store, product, warehouse, saleId, sale, void1, void2 };
}

describe('sales and voids (add-wins set)', () => {
  it('a sale projects its rows and one negative stock movement per line; total computed when omitted', async () => {
    const s = scenario();
    const r = await push(a.db, [s.sale]);
    expect(r.accepted).toEqual([s.sale.event_id]);
    expect(r.projectionFailures).toEqual([]);

    const sale = await a.db
      .selectFrom('sales')
      .selectAll()
      .where('id', '=', s.saleId)
      .executeTakeFirstOrThrow();
    expect(sale).toMatchObject({
      store_id: s.store,
      warehouse_id: s.warehouse,
      total: '26.00',
      voided_at: null,
      event_id: s.sale.event_id,
    });
    const items = await a.db
      .selectFrom('sale_items')
      .select(['line_no', 'qty', 'line_total'])
      .where('sale_id', '=', s.saleId)
      .orderBy('line_no')
      .execute();
    expect(items).toEqual([
      { line_no: 1, qty: '2.000', line_total: '20.00' },
      { line_no: 2, qty: '1.500', line_total: '6.00' },
    ]);
    expect(await stockOf(a.db, s.store, s.product, s.warehouse)).toBe(-3.5);
  });

  it('void before sale and sale then void give the same rows, voided and restocked', async () => {
    const s = scenario();
    await push(a.db, [s.void1]);
    // The void is kept on its own until its sale lands.
    expect(
      await a.db.selectFrom('sale_voids').select('sale_id').where('sale_id', '=', s.saleId).execute(),
    ).toHaveLength(1);
    expect(await a.db.selectFrom('sales').select('id').where('id', '=', s.saleId).execute()).toHaveLength(0);
    await push(a.db, [s.sale]);

    await push(b.db, [s.sale]);
    await push(b.db, [s.void1]);

    const voided = await a.db
      .selectFrom('sales')
      .selectAll()
      .where('id', '=', s.saleId)
      .executeTakeFirstOrThrow();
    expect(voided.void_event_id).toBe(s.void1.event_id);
    expect(voided.void_reason).toBe('wrong item');
    expect(voided.voided_at).toEqual(new Date(s.void1.created_at));
    expect(await stockOf(a.db, s.store, s.product, s.warehouse)).toBe(0);
    expect(await tablesOf(a.db, s.store)).toEqual(await tablesOf(b.db, s.store));
  });

  it('two voids restock exactly once, in any order and batching', async () => {
    const s = scenario();
    // a: void, sale, void (separate pushes); b: everything in one batch, voids first.
    await push(a.db, [s.void2]);
    await push(a.db, [s.sale]);
    await push(a.db, [s.void1]);
    await push(b.db, [s.void1, s.void2, s.sale]);

    for (const t of [a, b]) {
      expect(await stockOf(t.db, s.store, s.product, s.warehouse)).toBe(0);
      const restock = await t.db
        .selectFrom('stock_movements')
        .select(['line_no', 'qty_delta', 'kind'])
        .where('event_id', '=', s.sale.event_id)
        .where('kind', '=', 'void')
        .orderBy('line_no')
        .execute();
      expect(restock).toEqual([
        { line_no: -2, qty_delta: '1.500', kind: 'void' },
        { line_no: -1, qty_delta: '2.000', kind: 'void' },
      ]);
      // The earliest void (void1 was created first on its device) is the one the sale shows.
      const sale = await t.db
        .selectFrom('sales')
        .select(['void_event_id'])
        .where('id', '=', s.saleId)
        .executeTakeFirstOrThrow();
      expect(sale.void_event_id).toBe(s.void1.event_id);
    }
    expect(await tablesOf(a.db, s.store)).toEqual(await tablesOf(b.db, s.store));
    expect(await stockDivergence(a.db)).toEqual([]);
  });

  it('a void re-sent later is a duplicate and does not restock again', async () => {
    const s = scenario();
    await push(a.db, [s.sale, s.void1]);
    const again = await push(a.db, [s.void1, s.void2]);
    expect(again.duplicates).toEqual([s.void1.event_id]);
    expect(again.accepted).toEqual([s.void2.event_id]);
    expect(await stockOf(a.db, s.store, s.product, s.warehouse)).toBe(0);
  });

  it('a sale with warehouse_id omitted uses the store id as its warehouse', async () => {
    const store = randomUUID();
    const product = randomUUID();
    const d = new DeviceSim(store);
    const sale = d.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: product, qty: 3, unit_price: 1 }],
      total: 3,
    });
    const received = d.event('StockReceived', { product_id: product, qty: 10 });
    await push(a.db, [sale, received]);
    const row = await a.db
      .selectFrom('sales')
      .select('warehouse_id')
      .where('event_id', '=', sale.event_id)
      .executeTakeFirstOrThrow();
    expect(row.warehouse_id).toBe(store);
    const movements = await a.db
      .selectFrom('stock_movements')
      .select(['warehouse_id', 'qty_delta'])
      .where('store_id', '=', store)
      .orderBy('qty_delta')
      .execute();
    expect(movements).toEqual([
      { warehouse_id: store, qty_delta: '-3.000' },
      { warehouse_id: store, qty_delta: '10.000' },
    ]);
    expect(await stockOf(a.db, store, product)).toBe(7);
  });

  it('a sale id claimed by two events resolves to the smaller event id in any order, with its stock only', async () => {
    const store = randomUUID();
    const saleId = randomUUID();
    const [p1, p2] = [randomUUID(), randomUUID()];
    const d1 = new DeviceSim(store);
    const d2 = new DeviceSim(store);
    const x = d1.event('SaleCreated', {
      sale_id: saleId,
      items: [{ product_id: p1, qty: 1, unit_price: 5 }],
    });
    const y = d2.event('SaleCreated', {
      sale_id: saleId,
      items: [{ product_id: p2, qty: 4, unit_price: 2 }],
    });
    const v = d2.event('SaleVoided', { sale_id: saleId });
    const [small, large] = x.event_id < y.event_id ? [x, y] : [y, x];

    await push(a.db, [large]);
    await push(a.db, [v]);
    await push(a.db, [small]);
    await push(b.db, [small, v, large]);

    for (const t of [a, b]) {
      const sale = await t.db
        .selectFrom('sales')
        .select(['event_id', 'void_event_id'])
        .where('id', '=', saleId)
        .executeTakeFirstOrThrow();
      expect(sale).toEqual({ event_id: small.event_id, void_event_id: v.event_id });
      expect(await stockDivergence(t.db)).toEqual([]);
    }
    expect(await tablesOf(a.db, store)).toEqual(await tablesOf(b.db, store));
  });

  describe('concurrent pushes (READ COMMITTED transactions that cannot see each other)', () => {
    /**
     * Runs `first` until it is asleep in a trigger on cash_ledger_entries (projected after sales),
     * then runs `second` to completion, then lets `first` commit.
     */
    async function overlap(t: TestDatabase, entryId: string, first: SyncEvent[], second: SyncEvent[]) {
      await sql`
        CREATE OR REPLACE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.id = ${sql.lit(entryId)}::uuid THEN PERFORM pg_sleep(0.5); END IF;
          RETURN NEW;
        END $$`.execute(t.db);
      await sql`CREATE TRIGGER test_pause AFTER INSERT ON cash_ledger_entries FOR EACH ROW EXECUTE FUNCTION test_pause()`.execute(
        t.db,
      );
      try {
        const firstDone = push(t.db, first);
        for (let i = 0; i < 200; i++) {
          const r = await sql<{ n: string }>`
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`.execute(
            t.db,
          );
          if (Number(r.rows[0]!.n) > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const results = await Promise.all([firstDone, push(t.db, second)]);
        for (const r of results) expect(r.projectionFailures).toEqual([]);
      } finally {
        await sql`DROP TRIGGER test_pause ON cash_ledger_entries`.execute(t.db);
      }
    }

    it.each([
      ['sale first, void concurrently', true],
      ['void first, sale concurrently', false],
    ])('%s: the sale ends voided and restocked', async (_name, saleFirst) => {
      const s = scenario();
      const entryId = randomUUID();
      const [head, second] = saleFirst ? [s.sale, s.void1] : [s.void1, s.sale];
      const ledger = new DeviceSim(s.store).event(
        'CashLedgerEntryCreated',
        { entry_id: entryId, kind: 'in', amount: 1 },
        { at: Date.parse(head.created_at) },
      );
      await overlap(a, entryId, [head, ledger], [second]);

      const sale = await a.db
        .selectFrom('sales')
        .select('void_event_id')
        .where('id', '=', s.saleId)
        .executeTakeFirstOrThrow();
      expect(sale.void_event_id).toBe(s.void1.event_id);
      expect(await stockOf(a.db, s.store, s.product, s.warehouse)).toBe(0);
    });
  });
});

describe('table digests', () => {
  it('are equal for equal content and differ otherwise', async () => {
    const before = await tableDigest(a.db, 'sales');
    expect(before.rows).toBeGreaterThan(0);
    expect(await tableDigest(a.db, 'sales')).toEqual(before);
    const s = scenario();
    await push(a.db, [s.sale]);
    expect((await tableDigest(a.db, 'sales')).md5).not.toBe(before.md5);
  });
});
