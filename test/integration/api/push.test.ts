import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';

let app: TestApp;
const storeId = randomUUID();
let device: Awaited<ReturnType<typeof storeWithDevice>>;
let sim: DeviceSim;

beforeAll(async () => {
  app = await createTestApp();
  device = await storeWithDevice(app, storeId);
  sim = new DeviceSim(storeId, device.deviceId);
});
afterAll(() => app.close());

const countEvents = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(app.t.db)).rows[0]!.n);

function push(events: unknown[], headers = device.headers, extra: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: storeId, device_id: device.deviceId, events, ...extra },
  });
}

describe('POST /sync/push', () => {
  test('accepts a batch, projects it and answers duplicates on resend', async () => {
    const product = randomUUID();
    const sale = randomUUID();
    const events = [
      sim.event('ProductCreated', { product_id: product, name: 'Harina PAN', price: 1.2 }),
      sim.event('StockReceived', { product_id: product, qty: 24 }),
      sim.event('SaleCreated', { sale_id: sale, items: [{ product_id: product, qty: 2, unit_price: 1.2 }] }),
    ];
    const first = await push(events);
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(body.accepted).toEqual(events.map((e) => (e as { event_id: string }).event_id));
    expect(body.duplicates).toEqual([]);
    expect(body.rejected).toEqual([]);
    expect(body.last_node_seq).toBeGreaterThan(0);
    expect(first.headers['x-request-id']).toBeTruthy();

    const stock = await app.t.db
      .selectFrom('warehouse_stock')
      .select('stock')
      .where('product_id', '=', product)
      .executeTakeFirst();
    expect(stock?.stock).toBe('22.000');
    const saleRow = await app.t.db
      .selectFrom('sales')
      .select(['total', 'device_id'])
      .where('id', '=', sale)
      .executeTakeFirst();
    expect(saleRow).toEqual({ total: '2.40', device_id: device.deviceId });

    const again = await push(events);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ accepted: [], rejected: [], last_node_seq: null });
    expect(again.json().duplicates).toHaveLength(3);
    const movements = await app.t.db
      .selectFrom('stock_movements')
      .selectAll()
      .where('product_id', '=', product)
      .execute();
    expect(movements).toHaveLength(2);
  });

  test('same event_id with a different payload is rejected EVENT_ID_CONFLICT and changes nothing', async () => {
    const product = randomUUID();
    const original = sim.event('ProductCreated', { product_id: product, name: 'Queso', price: 5 }) as {
      event_id: string;
      payload: Record<string, unknown>;
    };
    expect((await push([original])).statusCode).toBe(200);
    const tampered = { ...original, payload: { ...original.payload, price: 1 } };
    const res = await push([tampered]);
    expect(res.statusCode).toBe(200);
    expect(res.json().rejected).toEqual([
      expect.objectContaining({ event_id: original.event_id, code: 'EVENT_ID_CONFLICT' }),
    ]);
    const row = await app.t.db
      .selectFrom('products')
      .select('price')
      .where('id', '=', product)
      .executeTakeFirst();
    expect(row?.price).toBe('5.00');
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/velox_sync_hash_mismatches_total 1/);
  });

  test('a hash is computed over the payload with keys sorted at every depth', async () => {
    const sale = randomUUID();
    const product = randomUUID();
    const e = sim.event('SaleCreated', {
      sale_id: sale,
      items: [{ product_id: product, qty: 1, unit_price: 3 }],
    }) as {
      payload: Record<string, unknown>;
    };
    expect((await push([e])).json().accepted).toHaveLength(1);
    // Same content, keys in another order at both depths: a duplicate, not a conflict.
    const reordered = {
      ...e,
      payload: { items: [{ unit_price: 3, qty: 1, product_id: product }], sale_id: sale },
    };
    const res = await push([reordered]);
    expect(res.json().duplicates).toHaveLength(1);
    expect(res.json().rejected).toEqual([]);
  });
});

describe('auth', () => {
  test('no token → 401, wrong token → 401, nothing written', async () => {
    const before = await countEvents();
    const e = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 });
    const none = await push([e], {} as typeof device.headers);
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHORIZED');
    const wrong = await push([e], { authorization: 'Bearer vxd_not-a-real-token' });
    expect(wrong.statusCode).toBe(401);
    expect(await countEvents()).toBe(before);
  });

  test('a device token may push only for its own store and device (403)', async () => {
    const before = await countEvents();
    const otherStore = randomUUID();
    const other = await storeWithDevice(app, otherStore);
    const e = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 });
    const wrongStore = await push([e], other.headers);
    expect(wrongStore.statusCode).toBe(403);
    expect(wrongStore.json().error.message).toMatch(/store/);
    const wrongDevice = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: other.headers,
      payload: { store_id: otherStore, device_id: device.deviceId, events: [] },
    });
    expect(wrongDevice.statusCode).toBe(403);
    expect(wrongDevice.json().error.message).toMatch(/device_id/);
    // Events that claim another device of the same store are refused too.
    const foreign = new DeviceSim(otherStore, randomUUID()).event('StockReceived', {
      product_id: randomUUID(),
      qty: 1,
    });
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: other.headers,
      payload: { store_id: otherStore, device_id: other.deviceId, events: [foreign] },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toMatch(/events\.0\.device_id/);
    expect(await countEvents()).toBe(before);
  });

  test('a device of store B pushing to store A with its own device id → 403, nothing written', async () => {
    const before = await countEvents();
    const storeB = randomUUID();
    const deviceB = await storeWithDevice(app, storeB);
    const product = randomUUID();
    // Everything in the request is consistent with store A except the token's own store.
    const intruder = new DeviceSim(storeId, deviceB.deviceId);
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: deviceB.headers,
      payload: {
        store_id: storeId,
        device_id: deviceB.deviceId,
        events: [
          intruder.event('ProductCreated', { product_id: product, name: 'Intruso', price: 99 }),
          intruder.event('StockReceived', { product_id: product, qty: 5 }),
        ],
      },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/store/) });
    expect(await countEvents()).toBe(before);
    expect(
      await app.t.db.selectFrom('products').select('id').where('id', '=', product).executeTakeFirst(),
    ).toBeUndefined();
    expect(
      await app.t.db
        .selectFrom('stock_movements')
        .select('product_id')
        .where('product_id', '=', product)
        .executeTakeFirst(),
    ).toBeUndefined();
  });

  test('admin routes refuse device tokens (403) and accept the admin secret', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/stores',
      headers: device.headers,
      payload: { name: 'x' },
    });
    expect(res.statusCode).toBe(403);
    const ok = await app.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { name: 'Bodega 2' },
    });
    expect(ok.statusCode).toBe(201);
  });

  test('device registration returns the token once and stores only its hash', async () => {
    const created = await storeWithDevice(app, randomUUID());
    const row = await app.t.db
      .selectFrom('devices')
      .selectAll()
      .where('id', '=', created.deviceId)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).not.toContain(created.token);
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('bad input never crashes the node and never writes', () => {
  let before: number;
  beforeEach(async () => {
    before = await countEvents();
  });
  afterEach(async () => {
    expect(await countEvents()).toBe(before);
  });

  const expectError = (
    res: { statusCode: number; json(): unknown },
    status: number,
    code: string,
    mention?: RegExp,
  ) => {
    expect(res.statusCode).toBe(status);
    const body = res.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    if (mention) expect(body.error.message).toMatch(mention);
  };

  test('malformed JSON → 400 INVALID_JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: { ...device.headers, 'content-type': 'application/json' },
      payload: '{"store_id": "x", "events": [',
    });
    expectError(res, 400, 'INVALID_JSON');
  });

  test('wrong type → 400 naming the field', async () => {
    const e = sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 2 }],
    }) as { payload: { items: { qty: unknown }[] } };
    e.payload.items[0]!.qty = 'two';
    expectError(await push([e]), 400, 'VALIDATION_FAILED', /events\.0\.payload\.items\.0\.qty/);
  });

  test('unknown event type → 400 naming events.N.type', async () => {
    const e = { ...sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }), type: 'SaleTeleported' };
    expectError(await push([e]), 400, 'VALIDATION_FAILED', /events\.0\.type/);
  });

  test('missing field → 400 naming it', async () => {
    const e = sim.event('DebtPaymentRecorded', {
      payment_id: randomUUID(),
      debt_id: randomUUID(),
      amount: 5,
    }) as {
      payload: Record<string, unknown>;
    };
    delete e.payload.debt_id;
    expectError(await push([e]), 400, 'VALIDATION_FAILED', /events\.0\.payload\.debt_id/);
    const noEnvelope = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }) as Record<
      string,
      unknown
    >;
    delete noEnvelope.vector_clock;
    expectError(await push([noEnvelope]), 400, 'VALIDATION_FAILED', /events\.0\.vector_clock/);
  });

  test('one bad event refuses the whole request (no partial write)', async () => {
    const good = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 });
    const bad = {
      ...sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }),
      created_at: 'yesterday',
    };
    expectError(await push([good, bad]), 400, 'VALIDATION_FAILED', /events\.1\.created_at/);
  });

  test('an event of another store than the request → 400', async () => {
    const e = new DeviceSim(randomUUID(), device.deviceId).event('StockReceived', {
      product_id: randomUUID(),
      qty: 1,
    });
    expectError(await push([e]), 400, 'STORE_MISMATCH', /events\.0\.store_id/);
  });

  test('more than 500 events → 413 with the limit in the message', async () => {
    const events = Array.from({ length: 501 }, () =>
      sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }),
    );
    expectError(await push(events), 413, 'TOO_MANY_EVENTS', /500/);
  });

  test('a body over 5 MB → 413', async () => {
    const e = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }) as {
      payload: Record<string, unknown>;
    };
    e.payload.note = 'x'.repeat(5 * 1024 * 1024);
    expectError(await push([e]), 413, 'PAYLOAD_TOO_LARGE', /5242880 bytes/);
  });

  test('not JSON at all → 415', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: { ...device.headers, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('the node still serves after all of the above', async () => {
    const res = await push([]);
    expect(res.statusCode).toBe(200);
  });
});
