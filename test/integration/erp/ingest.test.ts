import { Writable } from 'node:stream';
import pino from 'pino';
import { createErpTestApp, registerVendor, type ErpTestApp } from '../../support/erp';
import { item, stockOf } from '../../support/erp-agent';

// REQ-5 and REQ-16 scenarios 1-6, 12 against the real API and PostgreSQL: records land in their
// tables, unchanged ones are skipped by content hash, stale ones rejected by the ERP timestamp,
// unmapped unit/VAT fail only their item, limits answer 413, nothing answers 500.

let app: ErpTestApp;
beforeAll(async () => {
  app = await createErpTestApp();
});
afterAll(() => app.close());

type Result = {
  processed: number;
  skipped: number;
  failed: number;
  results: { sku?: string; warehouseId?: string; status: string; reason?: string }[];
};
const push = async (headers: Record<string, string>, url: string, payload: unknown) => {
  const res = await app.inject({ method: 'POST', url, headers, payload: payload as Record<string, unknown> });
  return { status: res.statusCode, body: res.json<Result>(), raw: res };
};

test('an agent pushes items: they are upserted with their codes resolved', async () => {
  const a = await registerVendor(app);
  const r = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: [item('A1'), item('A2', { unit: 'PC', family: null })],
  });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({
    processed: 2,
    skipped: 0,
    failed: 0,
    results: [
      { sku: 'A1', status: 'processed' },
      { sku: 'A2', status: 'processed' },
    ],
  });
  const rows = await app.t.db
    .selectFrom('erp_items')
    .selectAll()
    .where('vendor_id', '=', a.vendorId)
    .orderBy('sku')
    .execute();
  expect(rows.map((x) => [x.sku, x.unit_code, x.vat_code, x.family_code, x.price])).toEqual([
    ['A1', 'kilogram', 'vat-21', 'fruit', '1.5'],
    ['A2', 'piece', 'vat-21', null, '1.5'],
  ]);
  expect(r.raw.headers['x-correlation-id']).toBeDefined();
});

test('stock and warehouses are upserted', async () => {
  const a = await registerVendor(app);
  const w = await push(a.headers, '/api/sync/warehouses', {
    vendorId: a.vendorId,
    warehouses: [{ warehouseId: 'W1', name: 'Main', updatedAt: '2026-11-01T10:00:00Z' }],
  });
  expect(w.body).toMatchObject({ processed: 1, results: [{ warehouseId: 'W1', status: 'processed' }] });
  const s = await push(a.headers, '/api/sync/stock', {
    vendorId: a.vendorId,
    stock: [stockOf('A1', 'W1', 12), stockOf('A2', 'W1', 0.5)],
  });
  expect(s.body).toMatchObject({
    processed: 2,
    results: [{ sku: 'A1', warehouseId: 'W1', status: 'processed' }, { sku: 'A2' }],
  });
  const rows = await app.t.db
    .selectFrom('erp_stock')
    .select(['item_id', 'quantity'])
    .where('vendor_id', '=', a.vendorId)
    .orderBy('item_id')
    .execute();
  expect(rows).toEqual([
    { item_id: 'A1', quantity: '12' },
    { item_id: 'A2', quantity: '0.5' },
  ]);
  expect(
    await app.t.db.selectFrom('erp_warehouses').select('name').where('vendor_id', '=', a.vendorId).execute(),
  ).toEqual([{ name: 'Main' }]);

  // A newer quantity overwrites.
  const again = await push(a.headers, '/api/sync/stock', {
    vendorId: a.vendorId,
    stock: [stockOf('A1', 'W1', 7, { updatedAt: '2026-11-02T10:00:00Z' })],
  });
  expect(again.body.processed).toBe(1);
  const a1 = await app.t.db
    .selectFrom('erp_stock')
    .select('quantity')
    .where('vendor_id', '=', a.vendorId)
    .where('item_id', '=', 'A1')
    .executeTakeFirstOrThrow();
  expect(a1.quantity).toBe('7');
});

test('the same data sent twice: the second request is all skipped (content hash), even with a new timestamp', async () => {
  const a = await registerVendor(app);
  const items = [item('D1'), item('D2'), item('D3')];
  expect((await push(a.headers, '/api/sync/items', { vendorId: a.vendorId, items })).body.processed).toBe(3);
  const again = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: items.map((i) => ({ ...i, updatedAt: '2026-11-05T00:00:00Z' })),
  });
  expect(again.body).toMatchObject({ processed: 0, skipped: 3, failed: 0 });
  expect(again.body.results.every((r) => r.status === 'skipped' && r.reason === 'UNCHANGED')).toBe(true);
});

test('an older ERP timestamp than the stored one is rejected as stale; the stored record stays', async () => {
  const a = await registerVendor(app);
  await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: [item('T1', { name: 'New', updatedAt: '2026-11-10T00:00:00Z' })],
  });
  const old = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: [item('T1', { name: 'Old', updatedAt: '2026-11-09T00:00:00Z' })],
  });
  expect(old.body).toMatchObject({
    processed: 0,
    failed: 1,
    results: [{ sku: 'T1', status: 'failed', reason: 'STALE' }],
  });
  const row = await app.t.db
    .selectFrom('erp_items')
    .select('name')
    .where('vendor_id', '=', a.vendorId)
    .executeTakeFirstOrThrow();
  expect(row.name).toBe('New');
});

test('an unmapped unit or VAT fails that item; the others succeed; unmapped family is only left empty', async () => {
  const a = await registerVendor(app);
  const r = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: [
      item('U1'),
      item('U2', { unit: 'LITRE' }),
      item('U3', { vat: 'V99' }),
      item('U4', { family: 'NOPE' }),
    ],
  });
  expect(r.body).toMatchObject({
    processed: 2,
    failed: 2,
    results: [
      { sku: 'U1', status: 'processed' },
      { sku: 'U2', status: 'failed', reason: 'UNMAPPED_UNIT' },
      { sku: 'U3', status: 'failed', reason: 'UNMAPPED_VAT' },
      { sku: 'U4', status: 'processed' },
    ],
  });
  const rows = await app.t.db
    .selectFrom('erp_items')
    .select(['sku', 'family_code'])
    .where('vendor_id', '=', a.vendorId)
    .orderBy('sku')
    .execute();
  expect(rows).toEqual([
    { sku: 'U1', family_code: 'fruit' },
    { sku: 'U4', family_code: null },
  ]);
});

test('invalid and duplicate records fail alone, and no malformed input gets a 500', async () => {
  const a = await registerVendor(app);
  const r = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: [
      item('V1'),
      { sku: 'V2' },
      'garbage',
      null,
      item('V1'),
      item('V3', { name: 'nul\u0000byte' }),
      item('V4', { price: 1e30 }),
      { ...item('V5'), extra: 1 },
    ],
  });
  expect(r.status).toBe(200);
  expect(r.body.results.map((x) => [x.status, x.reason ?? null])).toEqual([
    ['processed', null],
    ['failed', 'INVALID'],
    ['failed', 'INVALID'],
    ['failed', 'INVALID'],
    ['failed', 'DUPLICATE_IN_REQUEST'],
    ['failed', 'INVALID'],
    ['failed', 'INVALID'],
    ['failed', 'INVALID'],
  ]);
  for (const payload of [
    {},
    { vendorId: a.vendorId },
    { vendorId: a.vendorId, items: 'x' },
    { vendorId: '../x', items: [] },
    [],
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/sync/items',
      headers: a.headers,
      payload: payload as object,
    });
    expect([res.statusCode, res.body]).toEqual([400, expect.any(String)]);
  }
  const res = await app.inject({
    method: 'POST',
    url: '/api/sync/stock',
    headers: { ...a.headers, 'content-type': 'application/json' },
    payload: '{"vendorId":',
  });
  expect(res.statusCode).toBe(400);
});

test('limits: over 500 records or 5 MB incremental, over 5,000 or 10 MB batch → 413 with a clear message', async () => {
  const a = await registerVendor(app);
  const many = (n: number) => Array.from({ length: n }, (_, i) => item(`L${i}`));
  const over = await push(a.headers, '/api/sync/items', { vendorId: a.vendorId, items: many(501) });
  expect(over.status).toBe(413);
  expect(over.raw.json()).toEqual({
    error: {
      code: 'TOO_MANY_ITEMS',
      message:
        '501 items records exceed the limit of 500 per request on POST /api/sync/items; split it, or use POST /api/sync/items/batch for a full push',
    },
  });
  const batch = await push(a.headers, '/api/sync/items/batch', { vendorId: a.vendorId, items: many(5000) });
  expect(batch.status).toBe(200);
  expect(batch.body.processed).toBe(5000);
  expect(
    await app.t.db
      .selectFrom('erp_items')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('vendor_id', '=', a.vendorId)
      .executeTakeFirstOrThrow(),
  ).toEqual({ n: '5000' });
  expect(
    (await push(a.headers, '/api/sync/items/batch', { vendorId: a.vendorId, items: many(5001) })).status,
  ).toBe(413);

  const big = (bytes: number) => [{ ...item('BIG'), description: 'x'.repeat(bytes) }];
  const tooBig = await push(a.headers, '/api/sync/items', {
    vendorId: a.vendorId,
    items: big(5 * 1024 * 1024),
  });
  expect(tooBig.status).toBe(413);
  expect(tooBig.raw.json()).toMatchObject({
    error: {
      code: 'PAYLOAD_TOO_LARGE',
      message: `request body exceeds the limit of ${5 * 1024 * 1024} bytes`,
    },
  });
  const batchBig = await push(a.headers, '/api/sync/items/batch', {
    vendorId: a.vendorId,
    items: big(10 * 1024 * 1024),
  });
  expect(batchBig.raw.json()).toMatchObject({
    error: { message: `request body exceeds the limit of ${10 * 1024 * 1024} bytes` },
  });
});

test('ingest is rate limited per agent (the seed: 60 a minute incremental, 10 batch)', async () => {
  const limited = await createErpTestApp({ ERP_RATE_LIMIT_BATCH: '2' });
  try {
    const a = await registerVendor(limited);
    const b = await registerVendor(limited);
    const codes = async (h: Record<string, string>, vendorId: string) => {
      const out: number[] = [];
      for (let i = 0; i < 3; i++) {
        out.push(
          (
            await limited.inject({
              method: 'POST',
              url: '/api/sync/stock/batch',
              headers: h,
              payload: { vendorId, stock: [] },
            })
          ).statusCode,
        );
      }
      return out;
    };
    expect(await codes(a.headers, a.vendorId)).toEqual([200, 200, 429]);
    // Another agent has its own budget.
    expect(await codes(b.headers, b.vendorId)).toEqual([200, 200, 429]);
  } finally {
    await limited.close();
  }
});

test('metrics count ingested records by kind and outcome', async () => {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.body).toMatch(/velox_erp_ingest_records_total\{kind="items",status="processed"\} \d+/);
  expect(res.body).toMatch(/velox_erp_ingest_records_total\{kind="items",status="skipped"\} \d+/);
});

test("X-Correlation-ID: the caller's id is echoed and in every log line of the request; without one, one is made", async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logged = await createErpTestApp({}, { log: pino({ level: 'info' }, sink) });
  try {
    const a = await registerVendor(logged);
    const res = await logged.inject({
      method: 'POST',
      url: '/api/sync/items',
      headers: { ...a.headers, 'x-correlation-id': 'erp-push-42' },
      payload: { vendorId: a.vendorId, items: [item('C1')] },
    });
    expect(res.headers['x-correlation-id']).toBe('erp-push-42');
    const ofRequest = lines.filter((l) => l.reqId === res.headers['x-request-id']);
    expect(ofRequest.map((l) => l.msg)).toEqual(expect.arrayContaining(['erp ingest']));
    expect(
      ofRequest.filter((l) => l.msg !== 'incoming request').every((l) => l.correlationId === 'erp-push-42'),
    ).toBe(true);
    const made = await logged.inject({
      method: 'POST',
      url: '/api/sync/items',
      headers: a.headers,
      payload: { vendorId: a.vendorId, items: [] },
    });
    expect(made.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  } finally {
    await logged.close();
  }
});
