import { randomBytes, randomUUID } from 'node:crypto';
import type { SyncEvent } from '../../../domain/events/schemas';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';

// GET /stores/{id}/explain/{stock|debt|product}/…: the events that made a row what it is, each with
// its type, device, origin node, how it reached this node and its contribution — and the
// contributions add up to the row.

const PEER_TOKEN = `peer-token-explain-${randomBytes(8).toString('hex')}`;
const peer = { authorization: `Bearer ${PEER_TOKEN}` };
let app: TestApp;
const storeId = randomUUID();
let pos1: Awaited<ReturnType<typeof storeWithDevice>>;
let sim: DeviceSim;

beforeAll(async () => {
  app = await createTestApp({
    PEERS: JSON.stringify([{ id: 'cloud', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
  });
  pos1 = await storeWithDevice(app, storeId);
  sim = new DeviceSim(storeId, pos1.deviceId);
});
afterAll(() => app.close());

async function push(headers: Record<string, string>, deviceId: string, events: unknown[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: storeId, device_id: deviceId, events },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json().rejected).toEqual([]);
}

/** An event of POS 1 that reached this node through the peer `cloud`, where it entered. */
const viaCloud = (e: SyncEvent) => ({ ...e, origin_node: 'cloud', hlc: e.created_at });

const explain = (path: string) =>
  app.inject({ method: 'GET', url: `/stores/${storeId}/explain/${path}`, headers: admin });
const sum = (xs: string[]) => xs.reduce((a, x) => a + Number(x), 0);

describe('stock', () => {
  const product = randomUUID();
  const [s1, s2] = [randomUUID(), randomUUID()];

  beforeAll(async () => {
    await push(pos1.headers, pos1.deviceId, [sim.event('StockReceived', { product_id: product, qty: 10 })]);
    await push(peer, pos1.deviceId, [
      viaCloud(
        sim.event('SaleCreated', { sale_id: s1, items: [{ product_id: product, qty: 2, unit_price: 1 }] }),
      ),
    ]);
    await push(pos1.headers, pos1.deviceId, [
      sim.event('SaleCreated', {
        sale_id: s2,
        items: [
          { product_id: randomUUID(), qty: 1, unit_price: 1 },
          { product_id: product, qty: 3, unit_price: 1 },
        ],
      }),
      sim.event('SaleVoided', { sale_id: s2, reason: 'customer left' }),
      sim.event('StockAdjusted', { product_id: product, qty_delta: -1, reason: 'broken' }),
    ]);
  });

  test('every movement, with its event and a line an operator reads; they add up to the stock', async () => {
    const res = await explain(`stock/${product}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      store_id: storeId,
      warehouse_id: storeId,
      product_id: product,
      quantity: '7.000',
    });
    expect(body.omitted).toEqual({ count: 0, qty: '0' });
    expect(sum(body.contributions.map((c: { qty: string }) => c.qty))).toBe(7);

    const byKind = (kind: string) => body.contributions.filter((c: { kind: string }) => c.kind === kind);
    expect(byKind('received')).toEqual([
      expect.objectContaining({
        qty: '10.000',
        summary: '+10 received on POS 1 via node node-test',
        event: expect.objectContaining({
          type: 'StockReceived',
          device_id: pos1.deviceId,
          device_name: 'POS 1',
          origin_node: 'node-test',
          via: 'node node-test',
        }),
      }),
    ]);
    const sales = byKind('sale');
    expect(sales).toHaveLength(2);
    expect(sales.find((c: { sale_id: string }) => c.sale_id === s1)).toMatchObject({
      qty: '-2.000',
      line_no: 1,
      summary: `-2 from sale ${s1} on POS 1 via node cloud`,
      event: { type: 'SaleCreated', origin_node: 'cloud', via: 'node cloud', device_name: 'POS 1' },
    });
    expect(sales.find((c: { sale_id: string }) => c.sale_id === s2)).toMatchObject({
      qty: '-3.000',
      line_no: 2,
    });
    expect(byKind('void')).toEqual([
      expect.objectContaining({
        qty: '3.000',
        sale_id: s2,
        line_no: -2,
        summary: `+3 back from the void of sale ${s2} on POS 1 via node node-test`,
        event: expect.objectContaining({ type: 'SaleVoided' }),
      }),
    ]);
    expect(byKind('adjusted')).toEqual([expect.objectContaining({ qty: '-1.000' })]);
    for (const c of body.contributions) {
      expect(typeof c.event.node_seq).toBe('number');
      expect(Date.parse(c.event.hlc)).not.toBeNaN();
      expect(Date.parse(c.event.created_at)).not.toBeNaN();
    }
  });

  test('a limit shows the newest; the rest is counted and summed, and the sum still holds', async () => {
    const body = (await explain(`stock/${product}?limit=2`)).json();
    expect(body.contributions).toHaveLength(2);
    expect(body.omitted.count).toBe(3);
    expect(sum([...body.contributions.map((c: { qty: string }) => c.qty), body.omitted.qty])).toBe(7);
  });

  test('a row that does not exist is 0 with nothing behind it; another warehouse is another row', async () => {
    expect((await explain(`stock/${randomUUID()}`)).json()).toMatchObject({
      quantity: '0',
      contributions: [],
    });
    const other = (await explain(`stock/${product}?warehouse_id=${randomUUID()}`)).json();
    expect(other).toMatchObject({ quantity: '0', contributions: [], omitted: { count: 0, qty: '0' } });
  });
});

describe('debt', () => {
  test('the debt and its payments add up to what remains', async () => {
    const debt = randomUUID();
    const [p1, p2] = [randomUUID(), randomUUID()];
    await push(pos1.headers, pos1.deviceId, [
      sim.event('DebtCreated', { debt_id: debt, amount: 20 }),
      sim.event('DebtPaymentRecorded', { payment_id: p1, debt_id: debt, amount: 5, payment_method: 'cash' }),
    ]);
    await push(peer, pos1.deviceId, [
      viaCloud(sim.event('DebtPaymentAdded', { payment_id: p2, debt_id: debt, amount: 4 })),
    ]);
    const res = await explain(`debt/${debt}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      debt_id: debt,
      total_amount: '20.00',
      remaining_amount: '11.00',
      status: 'partial',
    });
    expect(sum(body.contributions.map((c: { amount: string }) => c.amount))).toBe(
      Number(body.remaining_amount),
    );
    expect(body.contributions).toEqual([
      expect.objectContaining({
        kind: 'debt',
        amount: '20.00',
        event: expect.objectContaining({ type: 'DebtCreated' }),
      }),
      expect.objectContaining({ kind: 'payment', amount: '-5.00', payment_id: p1 }),
      expect.objectContaining({
        kind: 'payment',
        amount: '-4.00',
        payment_id: p2,
        event: expect.objectContaining({ type: 'DebtPaymentAdded', via: 'node cloud' }),
      }),
    ]);
  });

  test('an unknown debt is 404', async () => {
    const res = await explain(`debt/${randomUUID()}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('DEBT_NOT_FOUND');
  });
});

describe('product', () => {
  test("each field's last-writer-wins winner, the writes that lost, and which of them were concurrent", async () => {
    const product = randomUUID();
    const other = new DeviceSim(storeId, randomUUID());
    const created = sim.event('ProductCreated', { product_id: product, name: 'Arroz', price: 4.5 });
    // Written without having seen the create: concurrent with it, later by the clock.
    const concurrent = other.event(
      'ProductUpdated',
      { product_id: product, price: 5 },
      { at: Date.parse(created.created_at) + 60_000 },
    );
    await push(pos1.headers, pos1.deviceId, [created]);
    await push(admin, other.deviceId, [concurrent]);
    // POS 1 has seen the other write: its update follows it causally.
    sim.observe(concurrent.vector_clock);
    const update = sim.event(
      'ProductUpdated',
      { product_id: product, price: 4.9 },
      { at: Date.parse(concurrent.created_at) + 60_000 },
    );
    await push(pos1.headers, pos1.deviceId, [update]);

    const res = await explain(`product/${product}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const field = (name: string) => body.fields.find((f: { field: string }) => f.field === name);

    const price = field('price');
    expect(price.value).toBe('4.90');
    expect(price.winner).toMatchObject({
      value: 4.9,
      event: { event_id: update.event_id, device_name: 'POS 1' },
    });
    expect(Number(price.value)).toBe(price.winner.value);
    expect(price.losers.map((l: { event: { event_id: string } }) => l.event.event_id)).toEqual([
      concurrent.event_id,
      created.event_id,
    ]);
    expect(price.losers.map((l: { concurrent: boolean }) => l.concurrent)).toEqual([false, true]);
    expect(price.losers[0].event).toMatchObject({
      device_id: other.deviceId,
      device_name: null,
      via: `admin on node node-test`,
    });
    expect(price.summary).toContain('2 write(s) lost (1 concurrent, in the conflict audit)');

    expect(field('name')).toMatchObject({
      value: 'Arroz',
      winner: { event: { event_id: created.event_id } },
      losers: [],
    });
    // ProductCreated tracks inventory unless told otherwise.
    expect(field('track_inventory')).toMatchObject({ value: true, winner: { value: true } });
    expect(field('sku')).toMatchObject({
      value: null,
      winner: null,
      losers: [],
      summary: 'sku never written',
    });
    expect(body.conflicts).toEqual([
      expect.objectContaining({
        field: 'price',
        strategy: 'lww',
        winner_event_id: concurrent.event_id,
        loser_event_ids: [created.event_id],
      }),
    ]);
  });

  test('an unknown product is 404', async () => {
    const res = await explain(`product/${randomUUID()}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('PRODUCT_NOT_FOUND');
  });
});
