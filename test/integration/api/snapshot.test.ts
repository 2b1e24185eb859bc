import { randomUUID } from 'node:crypto';
import type { SyncEvent } from '../../../domain/events/schemas';
import type { SnapshotOut } from '../../../domain/wire/store-queries';
import { readSnapshot } from '../../../infra/reads/snapshot';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';

// GET /stores/{id}/snapshot and the feed: a device that loads the snapshot and then pulls from its
// position sees every later event exactly once — an event committed while the snapshot is being
// read is in the feed after the position and not in the rows; one committed after is in the feed.

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

async function pushAs(
  headers: Record<string, string>,
  storeId: string,
  deviceId: string,
  events: SyncEvent[],
) {
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: storeId, device_id: deviceId, events },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json().rejected).toEqual([]);
}

/** Every event of the store after `since`, through GET /sync/pull in small pages. */
async function pullAll(headers: Record<string, string>, storeId: string, since: number) {
  const events: { event_id: string; type: string; payload: Record<string, unknown> }[] = [];
  for (let i = 0; i < 1000; i++) {
    const res = await app.inject({
      method: 'GET',
      url: `/sync/pull?store_id=${storeId}&since=${since}&limit=3`,
      headers,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    events.push(...body.events);
    since = body.next_since;
    if (!body.has_more) break;
  }
  return events;
}

const stockIn = (s: SnapshotOut, productId: string, warehouseId: string) =>
  Number(s.stock.find((r) => r.product_id === productId && r.warehouse_id === warehouseId)?.quantity ?? 0);

test('events committed during and after the snapshot are seen once, through the feed', async () => {
  const storeId = randomUUID();
  const dev = await storeWithDevice(app, storeId);
  const sim = new DeviceSim(storeId, dev.deviceId);
  const product = randomUUID();
  const late = randomUUID();
  const before = [
    sim.event('ProductCreated', { product_id: product, name: 'Arroz', price: 4.5 }),
    sim.event('StockReceived', { product_id: product, qty: 10 }),
  ];
  await pushAs(dev.headers, storeId, dev.deviceId, before);

  const during = [
    sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: product, qty: 2, unit_price: 4.5 }],
    }),
    sim.event('ProductCreated', { product_id: late, name: 'Frijol', price: 3 }),
    sim.event('StockReceived', { product_id: product, qty: 5 }),
  ];
  let committedDuring = false;
  const snap = await readSnapshot(app.t.db, storeId, app.config.NODE_ID, {
    afterPosition: async () => {
      await pushAs(dev.headers, storeId, dev.deviceId, during);
      committedDuring = true;
    },
  });
  expect(committedDuring).toBe(true);
  const after = [
    sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: product, qty: 1, unit_price: 4.5 }],
    }),
  ];
  await pushAs(dev.headers, storeId, dev.deviceId, after);

  // The rows are those of the position: what was committed meanwhile is not in them.
  expect(stockIn(snap, product, storeId)).toBe(10);
  expect(snap.products.map((p) => p.id)).toEqual([product]);

  const pulled = await pullAll(dev.headers, storeId, snap.position);
  const ids = pulled.map((e) => e.event_id);
  expect(ids).toEqual([...during, ...after].map((e) => e.event_id));
  expect(new Set(ids).size).toBe(ids.length);

  // A device applying what it pulled on top of the snapshot has the node's stock, no more, no less.
  let stock = stockIn(snap, product, storeId);
  for (const e of pulled) {
    if (e.type === 'StockReceived') stock += e.payload.qty as number;
    if (e.type === 'SaleCreated') stock -= (e.payload.items as { qty: number }[])[0]!.qty;
  }
  const now = (
    await app.inject({ method: 'GET', url: `/stores/${storeId}/stock`, headers: dev.headers })
  ).json();
  expect(now.items).toEqual([{ warehouse_id: storeId, product_id: product, quantity: '12.000' }]);
  expect(stock).toBe(12);
});

test('GET /snapshot under concurrent pushes: rows + the feed after its position always add up to the final stock', async () => {
  const storeId = randomUUID();
  const dev = await storeWithDevice(app, storeId);
  const product = randomUUID();
  await pushAs(dev.headers, storeId, dev.deviceId, [
    new DeviceSim(storeId, dev.deviceId).event('StockReceived', { product_id: product, qty: 100 }),
  ]);
  const tills = Array.from({ length: 4 }, () => new DeviceSim(storeId));
  const pushes = tills.flatMap((till) =>
    Array.from({ length: 5 }, () => till.event('StockReceived', { product_id: product, qty: 1 })),
  );
  const snapshots: SnapshotOut[] = [];
  await Promise.all([
    // Each till pushes its events one by one (a device's own order); the tills run side by side.
    ...tills.map(async (till) => {
      for (const e of pushes.filter((p) => p.device_id === till.deviceId)) {
        await pushAs(admin, storeId, till.deviceId, [e]);
      }
    }),
    (async () => {
      for (let i = 0; i < 6; i++) {
        const res = await app.inject({
          method: 'GET',
          url: `/stores/${storeId}/snapshot`,
          headers: dev.headers,
        });
        expect(res.statusCode).toBe(200);
        snapshots.push(res.json<SnapshotOut>());
      }
    })(),
  ]);

  expect(snapshots).toHaveLength(6);
  for (const snap of snapshots) {
    expect(snap).toMatchObject({ store_id: storeId, node_id: app.config.NODE_ID });
    const pulled = await pullAll(dev.headers, storeId, snap.position);
    const ids = pulled.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(stockIn(snap, product, storeId) + pulled.length).toBe(120);
  }
});

test('the snapshot holds unpaid debts and open sessions only, and a store without events is at position 0', async () => {
  const storeId = randomUUID();
  const dev = await storeWithDevice(app, storeId);
  const empty = (
    await app.inject({ method: 'GET', url: `/stores/${storeId}/snapshot`, headers: dev.headers })
  ).json();
  expect(empty).toMatchObject({
    position: 0,
    products: [],
    stock: [],
    customers: [],
    debts: [],
    cash_sessions: [],
  });

  const sim = new DeviceSim(storeId, dev.deviceId);
  const [paid, open, closed, running, customer] = [1, 2, 3, 4, 5].map(() => randomUUID());
  await pushAs(dev.headers, storeId, dev.deviceId, [
    sim.event('CustomerCreated', { customer_id: customer!, name: 'Ana' }),
    sim.event('DebtCreated', { debt_id: paid!, customer_id: customer!, amount: 5 }),
    sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: paid!, amount: 5 }),
    sim.event('DebtCreated', { debt_id: open!, customer_id: customer!, amount: 8 }),
    sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: open!, amount: 3 }),
    sim.event('CashSessionOpened', { session_id: closed!, opening_amount: 50 }),
    sim.event('CashSessionClosed', { session_id: closed!, closing_amount: 70 }),
    sim.event('CashSessionOpened', { session_id: running!, opening_amount: 20 }),
  ]);
  const snap = (
    await app.inject({ method: 'GET', url: `/stores/${storeId}/snapshot`, headers: dev.headers })
  ).json();
  expect(snap.position).toBeGreaterThan(0);
  expect(snap.customers).toEqual([expect.objectContaining({ id: customer, name: 'Ana' })]);
  expect(snap.debts).toEqual([
    expect.objectContaining({
      id: open,
      remaining_amount: '5.00',
      payments: [expect.objectContaining({ amount: '3.00' })],
    }),
  ]);
  expect(snap.cash_sessions).toEqual([expect.objectContaining({ id: running, status: 'open', ledger: [] })]);
});

test('the snapshot carries units sold per product and UTC day over the last 7 days, voided sales left out', async () => {
  const storeId = randomUUID();
  const dev = await storeWithDevice(app, storeId);
  const now = Date.now();
  const DAY = 86_400_000;
  // Past sales a minute into their UTC day, so none of them sits on a day boundary.
  const midnight = Math.floor(now / DAY) * DAY;
  const daysAgo = (n: number) => midnight - n * DAY + 60_000;
  const sim = new DeviceSim(storeId, dev.deviceId, daysAgo(10));
  const [arroz, cafe] = [randomUUID(), randomUUID()];
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const sell = (at: number, items: [string, number][]) =>
    sim.event(
      'SaleCreated',
      {
        sale_id: randomUUID(),
        items: items.map(([product_id, qty]) => ({ product_id, qty, unit_price: 1 })),
      },
      { at },
    );
  // Built in time order: the device's clock never goes back (DeviceSim).
  const events = [
    sim.event('ProductCreated', { product_id: arroz, name: 'Arroz', price: 1 }, { at: daysAgo(10) }),
    sim.event('ProductCreated', { product_id: cafe, name: 'Café', price: 1 }, { at: daysAgo(10) }),
    // Seven days before today: outside the window (today and the six days before it).
    sell(daysAgo(7), [[arroz, 100]]),
    sell(daysAgo(3), [
      [arroz, 2],
      [cafe, 5],
    ]),
    sell(daysAgo(3), [[arroz, 1]]),
  ];
  const voided = sell(daysAgo(2), [[cafe, 50]]);
  events.push(
    voided,
    sim.event('SaleVoided', { sale_id: (voided.payload as { sale_id: string }).sale_id }, { at: daysAgo(2) }),
    sell(now, [[cafe, 4]]),
  );
  await pushAs(dev.headers, storeId, dev.deviceId, events);
  const res = await app.inject({ method: 'GET', url: `/stores/${storeId}/snapshot`, headers: dev.headers });
  expect(res.statusCode).toBe(200);
  const stats = res.json<SnapshotOut>().sales_stats;
  const expected = [
    { product_id: arroz, day: day(daysAgo(3)), qty: 3 },
    { product_id: cafe, day: day(daysAgo(3)), qty: 5 },
    { product_id: cafe, day: day(now), qty: 4 },
  ];
  const key = (s: { product_id: string; day: string }) => `${s.product_id}:${s.day}`;
  expect(
    stats.map((s) => ({ ...s, qty: Number(s.qty) })).sort((a, b) => key(a).localeCompare(key(b))),
  ).toEqual(expected.sort((a, b) => key(a).localeCompare(key(b))));
});
