import { randomUUID } from 'node:crypto';
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

const push = (events: unknown[]) =>
  app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: device.headers,
    payload: { store_id: storeId, device_id: device.deviceId, events },
  });

describe('GET /sync/pull', () => {
  test('pages through a store in node_seq order, without other stores', async () => {
    const events = Array.from({ length: 7 }, () =>
      sim.event('StockReceived', { product_id: randomUUID(), qty: 2 }),
    );
    expect((await push(events)).statusCode).toBe(200);
    const otherStore = randomUUID();
    const other = await storeWithDevice(app, otherStore);
    const stranger = new DeviceSim(otherStore, other.deviceId).event('StockReceived', {
      product_id: randomUUID(),
      qty: 1,
    });
    await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: other.headers,
      payload: { store_id: otherStore, device_id: other.deviceId, events: [stranger] },
    });

    const seen: string[] = [];
    let since = 0;
    for (let page = 0; page < 10; page++) {
      const res = await app.inject({
        method: 'GET',
        url: `/sync/pull?store_id=${storeId}&since=${since}&limit=3`,
        headers: device.headers,
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      for (const e of body.events) {
        expect(e.store_id).toBe(storeId);
        expect(e.node_seq).toBeGreaterThan(since);
        expect(e.origin_node).toBe('node-test');
        seen.push(e.event_id);
      }
      since = body.next_since;
      if (!body.has_more) break;
    }
    expect(seen).toEqual(events.map((e) => (e as { event_id: string }).event_id));
  });

  test("a device cannot read another store's feed", async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/sync/pull?store_id=${randomUUID()}`,
      headers: device.headers,
    });
    expect(res.statusCode).toBe(403);
  });

  test('bad query → 400 naming the parameter', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/sync/pull?store_id=${storeId}&limit=0`,
      headers: device.headers,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/limit/);
  });
});

describe('GET /sync/conflicts/audit', () => {
  test('lists concurrent product writes with winner, loser and payloads, filtered by date', async () => {
    const product = randomUUID();
    const other = new DeviceSim(storeId, randomUUID());
    // A second device of the same store pushes through the admin.
    const created = sim.event('ProductCreated', { product_id: product, name: 'Café', price: 4 });
    await push([created]);
    other.observe(sim.clock);
    const mine = sim.event('ProductUpdated', { product_id: product, price: 5 });
    const theirs = other.event('ProductUpdated', { product_id: product, price: 6 });
    await push([mine]);
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: admin,
      payload: { store_id: storeId, device_id: other.deviceId, events: [theirs] },
    });
    expect(res.json().accepted).toHaveLength(1);

    const today = new Date().toISOString().slice(0, 10);
    const audit = await app.inject({
      method: 'GET',
      url: `/sync/conflicts/audit?store_id=${storeId}&from=${today}&to=${today}`,
      headers: admin,
    });
    expect(audit.statusCode).toBe(200);
    const items = audit.json().items as {
      entity_id: string;
      winner_event_id: string;
      loser_event_ids: string[];
      strategy: string;
      winner_payload: { price: number };
    }[];
    const forProduct = items.filter((i) => i.entity_id === product);
    expect(forProduct).toHaveLength(1);
    const ids = [(mine as { event_id: string }).event_id, (theirs as { event_id: string }).event_id];
    expect(ids).toContain(forProduct[0]!.winner_event_id);
    expect(ids).toContain(forProduct[0]!.loser_event_ids[0]);
    expect(forProduct[0]!.strategy).toBe('lww');
    const price = await app.t.db
      .selectFrom('products')
      .select('price')
      .where('id', '=', product)
      .executeTakeFirstOrThrow();
    expect(Number(price.price)).toBe(forProduct[0]!.winner_payload.price);

    const past = await app.inject({
      method: 'GET',
      url: `/sync/conflicts/audit?store_id=${storeId}&to=2020-01-01`,
      headers: admin,
    });
    expect(past.json().items).toEqual([]);
    const asDevice = await app.inject({
      method: 'GET',
      url: `/sync/conflicts/audit?store_id=${storeId}`,
      headers: device.headers,
    });
    expect(asDevice.statusCode).toBe(403);
  });
});

describe('stores', () => {
  test('declaring a store twice is idempotent; unknown store for a device → 404', async () => {
    const id = randomUUID();
    const a = await app.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { id, name: 'Centro' },
    });
    const b = await app.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { id, name: 'Centro' },
    });
    expect([a.statusCode, b.statusCode]).toEqual([201, 200]);
    expect(b.json().id).toBe(id);
    const missing = await app.inject({
      method: 'POST',
      url: `/stores/${randomUUID()}/devices`,
      headers: admin,
      payload: { name: 'POS' },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('STORE_NOT_FOUND');
  });
});

describe('operations', () => {
  test('/healthz reports PostgreSQL, Temporal and the worker without a token', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' },
    });
  });

  test('/metrics is Prometheus text with the push metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(/velox_sync_push_events_total\{outcome="accepted"\} \d+/);
    expect(res.body).toMatch(/velox_sync_push_duration_seconds_bucket/);
    expect(res.body).toMatch(/velox_projection_failures_total/);
  });

  test('OpenAPI is generated from the zod schemas and served at /docs', async () => {
    const json = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    const doc = json.json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/sync/push',
        '/sync/pull',
        '/sync/conflicts/audit',
        '/stores',
        '/stores/{store_id}/devices',
      ]),
    );
    const body = doc.paths['/sync/push'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(body)).toContain('SaleCreated');
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
  });

  test('unknown route → 404 in the error shape', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });
});
