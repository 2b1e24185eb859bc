import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';
import type { PayloadOf } from '../../../domain/events/schemas';
import type { PushResponse } from '../../../domain/wire/peer-protocol';

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
    // Fields the schema does not know travel as sent; the ones it knows it rebuilds in its own key
    // order before hashing, which would hide a hash that sorts only the top level. So the nested
    // reordering below is done on unknown fields, in an object and inside an array.
    const e = sim.event('SaleCreated', {
      sale_id: sale,
      items: [
        { product_id: product, qty: 1, unit_price: 3, note: { by: 'ana', at: { till: 2, shift: 'am' } } },
      ],
      meta: { source: 'pwa', flags: [{ offline: true, retried: false }] },
    } as PayloadOf<'SaleCreated'>) as { payload: Record<string, unknown> };
    expect((await push([e])).json().accepted).toHaveLength(1);
    // Same content, keys in another order at every depth: a duplicate, not a conflict.
    const reordered = {
      ...e,
      payload: {
        meta: { flags: [{ retried: false, offline: true }], source: 'pwa' },
        items: [
          { note: { at: { shift: 'am', till: 2 }, by: 'ana' }, unit_price: 3, qty: 1, product_id: product },
        ],
        sale_id: sale,
      },
    };
    const res = await push([reordered]);
    expect(res.json().rejected).toEqual([]);
    expect(res.json().duplicates).toHaveLength(1);
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
    // Events that claim another device of the same store are refused one by one.
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
    expect(res.statusCode).toBe(200);
    expect(res.json().rejected).toEqual([
      expect.objectContaining({
        index: 0,
        code: 'DEVICE_MISMATCH',
        message: expect.stringMatching(/events\.0\.device_id/),
      }),
    ]);
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
  /** Events a test expects to be written (the valid ones beside a rejected one). */
  let written: number;
  beforeEach(async () => {
    before = await countEvents();
    written = 0;
  });
  afterEach(async () => {
    expect(await countEvents()).toBe(before + written);
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

  /** The request is fine; the event at `index` is rejected on its own, naming the field. */
  const expectRejected = (
    res: { statusCode: number; json(): unknown },
    index: number,
    code: string,
    mention: RegExp,
  ) => {
    expect(res.statusCode).toBe(200);
    const body = res.json() as PushResponse;
    const r = body.rejected.find((x) => x.index === index);
    expect(r).toMatchObject({ index, code });
    expect(r!.message).toMatch(mention);
    return body;
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

  test('a bad envelope → 400 naming the field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: device.headers,
      payload: { store_id: 'not-a-uuid', device_id: device.deviceId, events: [] },
    });
    expectError(res, 400, 'VALIDATION_FAILED', /store_id/);
    const noEvents = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: device.headers,
      payload: { store_id: storeId, device_id: device.deviceId, events: {} },
    });
    expectError(noEvents, 400, 'VALIDATION_FAILED', /events/);
  });

  test('wrong type → rejected naming the field', async () => {
    const e = sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 2 }],
    }) as { payload: { items: { qty: unknown }[] } };
    e.payload.items[0]!.qty = 'two';
    const body = expectRejected(await push([e]), 0, 'INVALID_EVENT', /events\.0\.payload\.items\.0\.qty/);
    expect(body.rejected[0]!.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'events.0.payload.items.0.qty' })]),
    );
  });

  test('unknown event type → rejected naming events.N.type', async () => {
    const e = { ...sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }), type: 'SaleTeleported' };
    expectRejected(await push([e]), 0, 'INVALID_EVENT', /events\.0\.type/);
  });

  test('missing field → rejected naming it', async () => {
    const e = sim.event('DebtPaymentRecorded', {
      payment_id: randomUUID(),
      debt_id: randomUUID(),
      amount: 5,
    }) as {
      payload: Record<string, unknown>;
    };
    delete e.payload.debt_id;
    expectRejected(await push([e]), 0, 'INVALID_EVENT', /events\.0\.payload\.debt_id/);
    const noEnvelope = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }) as Record<
      string,
      unknown
    >;
    delete noEnvelope.vector_clock;
    expectRejected(await push([noEnvelope]), 0, 'INVALID_EVENT', /events\.0\.vector_clock/);
  });

  test('a poison event never blocks the others: the valid events of the request are accepted', async () => {
    const good = sim.event('StockReceived', { product_id: randomUUID(), qty: 1 });
    const bad = {
      ...sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }),
      created_at: 'yesterday',
    };
    const after = sim.event('StockReceived', { product_id: randomUUID(), qty: 2 });
    const body = expectRejected(await push([good, bad, after]), 1, 'INVALID_EVENT', /events\.1\.created_at/);
    expect(body.accepted).toEqual([good.event_id, after.event_id]);
    expect(body.rejected).toHaveLength(1);
    expect(body.rejected[0]!.event_id).toBe(bad.event_id);
    written = 2;
  });

  test('an event of another store than the request → rejected, STORE_MISMATCH', async () => {
    const e = new DeviceSim(randomUUID(), device.deviceId).event('StockReceived', {
      product_id: randomUUID(),
      qty: 1,
    });
    expectRejected(await push([e]), 0, 'STORE_MISMATCH', /events\.0\.store_id/);
  });

  describe('hostile strings, dates, nesting and sizes: a 4xx-class rejection each, never a 500', () => {
    const product = () =>
      sim.event('ProductCreated', { product_id: randomUUID(), name: 'Cafe', price: 2 }) as unknown as {
        payload: Record<string, unknown>;
      } & Record<string, unknown>;

    test('a payload nested 3,000 levels deep', async () => {
      const e = product();
      let deep: Record<string, unknown> = {};
      e.payload.extra = deep;
      for (let i = 0; i < 3000; i++) deep = deep.next = {} as Record<string, unknown>;
      expectRejected(await push([e]), 0, 'EVENT_TOO_DEEP', /events\.0\.payload\.extra/);
    });

    test('a NUL character in a product name, an unpaired surrogate in a key', async () => {
      const nul = product();
      nul.payload.name = 'Caf\u0000e';
      expectRejected(await push([nul]), 0, 'INVALID_STRING', /events\.0\.payload\.name: contains a NUL/);
      const surrogate = product();
      surrogate.payload['bad\ud800key'] = 1;
      expectRejected(await push([surrogate]), 0, 'INVALID_STRING', /unpaired surrogate/);
    });

    test('created_at in year 0000, and outside the window', async () => {
      const zero = { ...product(), created_at: '0000-01-01T00:00:00Z' };
      expectRejected(await push([zero]), 0, 'INVALID_EVENT', /events\.0\.created_at/);
      const old = { ...product(), created_at: '1970-01-01T00:00:00Z' };
      expectRejected(await push([old]), 0, 'DATE_OUT_OF_RANGE', /events\.0\.created_at/);
      const voided = sim.event('SaleVoided', { sale_id: randomUUID(), voided_at: '0000-06-01T00:00:00Z' });
      expectRejected(await push([voided]), 0, 'INVALID_EVENT', /events\.0\.payload\.voided_at/);
    });

    test('an event over 64 KB, too many clock entries, a number past its column', async () => {
      const big = product();
      big.payload.notes_blob = 'x'.repeat(70 * 1024);
      expectRejected(await push([big]), 0, 'EVENT_TOO_LARGE', /65536/);
      const clocks = product();
      clocks.vector_clock = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`d${i}`, 1]));
      expectRejected(await push([clocks]), 0, 'TOO_MANY_CLOCK_ENTRIES', /vector_clock/);
      const huge = product();
      huge.payload.price = 1e20;
      expectRejected(await push([huge]), 0, 'INVALID_EVENT', /events\.0\.payload\.price/);
      const seq = { ...product(), vector_clock: { [device.deviceId]: 2 ** 60 } };
      expectRejected(await push([seq]), 0, 'INVALID_EVENT', /vector_clock/);
    });
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
