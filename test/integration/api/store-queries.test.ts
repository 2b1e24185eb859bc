import { randomUUID } from 'node:crypto';
import type { SyncEvent } from '../../../domain/events/schemas';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';

// The read side of a store (GET /stores/{id}/products, stock, customers, debts, sales, cash-sessions):
// each store sees its own rows even when two stores reuse every entity id, pages by cursor without
// gaps or repeats, a device reaches its own store only, and bad parameters are 400s.

let app: TestApp;
const storeA = randomUUID();
const storeB = randomUUID();
let devA: Awaited<ReturnType<typeof storeWithDevice>>;
let devB: Awaited<ReturnType<typeof storeWithDevice>>;
let simA: DeviceSim;
let simB: DeviceSim;

/** The same entity ids in both stores. */
const ids = {
  product: randomUUID(),
  untracked: randomUUID(),
  customer: randomUUID(),
  session: randomUUID(),
  sale: randomUUID(),
  voided: randomUUID(),
  nextDay: randomUUID(),
  debt: randomUUID(),
  payment: randomUUID(),
  entry: randomUUID(),
  warehouse: randomUUID(),
};
const DAY = '2026-11-20';
const NEXT_DAY = '2026-11-21';

function day(d: DeviceSim, price: number): SyncEvent[] {
  return [
    d.event('ProductCreated', { product_id: ids.product, name: `Harina ${price}`, price }),
    d.event('ProductCreated', {
      product_id: ids.untracked,
      name: `Bolsa ${price}`,
      price: 0.1,
      track_inventory: false,
    }),
    d.event('CustomerCreated', { customer_id: ids.customer, name: `Carmen ${price}` }),
    d.event('CashSessionOpened', { session_id: ids.session, opening_amount: price * 10 }),
    d.event('StockReceived', { product_id: ids.product, warehouse_id: ids.warehouse, qty: price * 4 }),
    d.event('SaleCreated', {
      sale_id: ids.sale,
      warehouse_id: ids.warehouse,
      session_id: ids.session,
      total: price * 2,
      items: [{ product_id: ids.product, qty: 2, unit_price: price }],
    }),
    d.event('SaleCreated', {
      sale_id: ids.voided,
      items: [
        { product_id: ids.product, qty: 1, unit_price: price },
        { product_id: ids.untracked, qty: 3, unit_price: 0.1 },
      ],
    }),
    d.event('SaleVoided', { sale_id: ids.voided, reason: 'wrong item' }),
    d.event('DebtCreated', { debt_id: ids.debt, customer_id: ids.customer, amount: price * 3 }),
    d.event('DebtPaymentRecorded', { payment_id: ids.payment, debt_id: ids.debt, amount: price }),
    d.event('CashLedgerEntryCreated', {
      entry_id: ids.entry,
      session_id: ids.session,
      kind: 'in',
      amount: price,
    }),
    d.event(
      'SaleCreated',
      { sale_id: ids.nextDay, items: [{ product_id: ids.product, qty: 1, unit_price: price }] },
      { at: Date.parse(`${NEXT_DAY}T09:00:00.000Z`) },
    ),
  ];
}

async function push(dev: typeof devA, storeId: string, events: SyncEvent[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: dev.headers,
    payload: { store_id: storeId, device_id: dev.deviceId, events },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json().rejected).toEqual([]);
}

const get = (url: string, headers: Record<string, string>) => app.inject({ method: 'GET', url, headers });

beforeAll(async () => {
  app = await createTestApp();
  devA = await storeWithDevice(app, storeA);
  devB = await storeWithDevice(app, storeB);
  simA = new DeviceSim(storeA, devA.deviceId);
  simB = new DeviceSim(storeB, devB.deviceId);
  await push(devA, storeA, day(simA, 2));
  await push(devB, storeB, day(simB, 5));
});
afterAll(() => app.close());

describe('two stores that reuse every entity id see only their own rows', () => {
  test.each([
    ['A', () => ({ storeId: storeA, dev: devA, price: 2 })],
    ['B', () => ({ storeId: storeB, dev: devB, price: 5 })],
  ])('store %s', async (_name, of) => {
    const { storeId, dev, price } = of();
    for (const headers of [dev.headers, admin]) {
      const products = (await get(`/stores/${storeId}/products`, headers)).json();
      expect(products.next_cursor).toBeNull();
      expect(products.items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            id: ids.product,
            name: `Harina ${price}`,
            track_inventory: true,
            active: true,
          }),
          expect.objectContaining({ id: ids.untracked, name: `Bolsa ${price}`, track_inventory: false }),
        ]),
      );
      expect(products.items).toHaveLength(2);

      const stock = (await get(`/stores/${storeId}/stock`, headers)).json();
      // received 4p, sold 2 in the session's warehouse; the voided sale's lines went out and back in.
      expect(stock.items).toEqual(
        expect.arrayContaining([
          { warehouse_id: ids.warehouse, product_id: ids.product, quantity: `${(price * 4 - 2).toFixed(3)}` },
          { warehouse_id: storeId, product_id: ids.product, quantity: '-1.000' },
        ]),
      );

      const customers = (await get(`/stores/${storeId}/customers`, headers)).json();
      expect(customers.items).toEqual([
        expect.objectContaining({ id: ids.customer, name: `Carmen ${price}` }),
      ]);

      const debts = (await get(`/stores/${storeId}/debts`, headers)).json();
      expect(debts.items).toEqual([
        expect.objectContaining({
          id: ids.debt,
          total_amount: (price * 3).toFixed(2),
          paid_amount: price.toFixed(2),
          remaining_amount: (price * 2).toFixed(2),
          status: 'partial',
          payments: [expect.objectContaining({ id: ids.payment, amount: price.toFixed(2) })],
        }),
      ]);

      const sales = (await get(`/stores/${storeId}/sales?day=${DAY}`, headers)).json();
      expect(sales.items.map((s: { id: string }) => s.id).sort()).toEqual([ids.sale, ids.voided].sort());
      const sold = sales.items.find((s: { id: string }) => s.id === ids.sale);
      expect(sold).toMatchObject({
        voided: false,
        voided_at: null,
        total: (price * 2).toFixed(2),
        session_id: ids.session,
        lines: [{ line_no: 1, product_id: ids.product, qty: '2.000', unit_price: price.toFixed(2) }],
      });
      const voided = sales.items.find((s: { id: string }) => s.id === ids.voided);
      expect(voided).toMatchObject({ voided: true, void_reason: 'wrong item' });
      expect(voided.lines.map((l: { product_id: string }) => l.product_id)).toEqual([
        ids.product,
        ids.untracked,
      ]);
      const nextDay = (await get(`/stores/${storeId}/sales?day=${NEXT_DAY}`, headers)).json();
      expect(nextDay.items.map((s: { id: string }) => s.id)).toEqual([ids.nextDay]);

      const sessions = (await get(`/stores/${storeId}/cash-sessions`, headers)).json();
      expect(sessions.items).toEqual([
        expect.objectContaining({
          id: ids.session,
          status: 'open',
          opening_amount: (price * 10).toFixed(2),
          ledger: [expect.objectContaining({ id: ids.entry, kind: 'in', amount: price.toFixed(2) })],
        }),
      ]);
    }

    // Explain reads the same store's log only: the other store's writes of the same ids are not there.
    const product = (await get(`/stores/${storeId}/explain/product/${ids.product}`, admin)).json();
    const name = product.fields.find((f: { field: string }) => f.field === 'name');
    expect(name).toMatchObject({
      value: `Harina ${price}`,
      winner: { value: `Harina ${price}` },
      losers: [],
    });
    const stock = (
      await get(`/stores/${storeId}/explain/stock/${ids.product}?warehouse_id=${ids.warehouse}`, admin)
    ).json();
    expect(stock.contributions.map((c: { qty: string }) => Number(c.qty)).sort()).toEqual([-2, price * 4]);
    const debt = (await get(`/stores/${storeId}/explain/debt/${ids.debt}`, admin)).json();
    expect(debt.contributions.map((c: { amount: string }) => Number(c.amount))).toEqual([price * 3, -price]);
  });
});

describe('pagination', () => {
  test('products page by cursor: every row once, in id order, and the last page says so', async () => {
    const storeId = randomUUID();
    const dev = await storeWithDevice(app, storeId);
    const sim = new DeviceSim(storeId, dev.deviceId);
    const productIds = Array.from({ length: 7 }, () => randomUUID());
    await push(
      dev,
      storeId,
      productIds.map((product_id, i) => sim.event('ProductCreated', { product_id, name: `P${i}`, price: i })),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(
        `/stores/${storeId}/products?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        dev.headers,
      );
      expect(res.statusCode).toBe(200);
      const body = res.json<{ items: { id: string }[]; next_cursor: string | null }>();
      expect(body.items.length).toBeLessThanOrEqual(3);
      seen.push(...body.items.map((p) => p.id));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...productIds].sort());
  });

  test('stock pages by (warehouse, product) and sales of a day by time', async () => {
    const storeId = randomUUID();
    const dev = await storeWithDevice(app, storeId);
    const sim = new DeviceSim(storeId, dev.deviceId);
    const warehouses = [randomUUID(), randomUUID()];
    const products = [randomUUID(), randomUUID(), randomUUID()];
    const sales = Array.from({ length: 5 }, () => randomUUID());
    await push(dev, storeId, [
      ...warehouses.flatMap((warehouse_id) =>
        products.map((product_id) => sim.event('StockReceived', { product_id, warehouse_id, qty: 1 })),
      ),
      ...sales.map((sale_id) =>
        sim.event('SaleCreated', { sale_id, items: [{ product_id: products[0]!, qty: 1, unit_price: 1 }] }),
      ),
    ]);
    const all = async (path: string, key: (r: Record<string, string>) => string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 20; i++) {
        const sep = path.includes('?') ? '&' : '?';
        const res = await get(
          `${path}${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          dev.headers,
        );
        expect(res.statusCode).toBe(200);
        const body = res.json<{ items: Record<string, string>[]; next_cursor: string | null }>();
        out.push(...body.items.map(key));
        cursor = body.next_cursor;
        if (!cursor) break;
      }
      return out;
    };
    const stockKeys = await all(`/stores/${storeId}/stock`, (r) => `${r.warehouse_id}/${r.product_id}`);
    const expected = [
      ...warehouses.flatMap((w) => products.map((p) => `${w}/${p}`)),
      `${storeId}/${products[0]}`,
    ].sort();
    expect(stockKeys).toEqual(expected);
    // DeviceSim's clock moves one second per event: the sales sort by time in push order.
    expect(await all(`/stores/${storeId}/sales?day=${DAY}`, (r) => r.id!)).toEqual(sales);
  });
});

describe('access', () => {
  test("a device reading another store's rows is refused (403), whatever the parameters", async () => {
    for (const path of [
      'products',
      'stock',
      'customers',
      'debts',
      `sales?day=${DAY}`,
      'cash-sessions',
      'snapshot',
      'products?limit=0',
      'sales?day=not-a-day',
    ]) {
      const res = await get(`/stores/${storeB}/${path}`, devA.headers);
      expect([path, res.statusCode, res.json().error.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
  });

  test('an admin naming a store this node does not hold gets 404', async () => {
    const res = await get(`/stores/${randomUUID()}/products`, admin);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('STORE_NOT_FOUND');
  });

  test('explain is for admins only', async () => {
    const res = await get(`/stores/${storeA}/explain/product/${ids.product}`, devA.headers);
    expect(res.statusCode).toBe(403);
  });
});

describe('bad parameters are 400, never 500', () => {
  const stockCursor = Buffer.from(JSON.stringify(['stock', randomUUID(), randomUUID()])).toString(
    'base64url',
  );
  test.each([
    ['products?limit=0', 'limit'],
    ['products?limit=501', 'limit'],
    ['products?limit=abc', 'limit'],
    ['products?cursor=%00%01', 'cursor'],
    ['products?cursor=bm90LWpzb24', 'cursor'],
    [`products?cursor=${stockCursor}`, 'cursor'],
    [`customers?cursor=${Buffer.from('["customers","x"]').toString('base64url')}`, 'cursor'],
    ['sales', 'day'],
    ['sales?day=2026-13-45', 'day'],
    ['sales?day=20261120', 'day'],
    ['sales?day=2026-02-29', 'day'],
    ['sales?day=0000-01-01', 'day'],
    ['sales?day=9999-12-31', 'day'],
    ['debts?status=forgiven', 'status'],
    ['cash-sessions?status=lost', 'status'],
    ['explain/stock/not-a-uuid', 'product_id'],
    [`explain/stock/${randomUUID()}?warehouse_id=x`, 'warehouse_id'],
    [`explain/stock/${randomUUID()}?limit=0`, 'limit'],
    ['explain/debt/1', 'debt_id'],
  ])('%s', async (path, field) => {
    const res = await get(`/stores/${storeA}/${path}`, admin);
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().error)).toContain(field);
  });

  test('the first and last days sales can carry are answered (empty), not refused', async () => {
    for (const day of ['0001-01-01', '9999-12-30']) {
      const res = await get(`/stores/${storeA}/sales?day=${day}`, admin);
      expect([day, res.statusCode, res.json().items]).toEqual([day, 200, []]);
    }
  });

  test('a store id that is not a uuid', async () => {
    const res = await get('/stores/not-a-store/products', admin);
    expect(res.statusCode).toBe(400);
  });
});
