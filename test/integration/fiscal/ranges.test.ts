import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { createFiscalExhaustionSignaller, fiscalRangeWorkflowId } from '../../../actors/fiscal';
import { buildApp } from '../../../api/app';
import { createNodeWorker } from '../../../app/worker';
import { configSchema } from '../../../infra/config';
import { createMetrics } from '../../../infra/metrics';
import { ensureSearchAttributes } from '../../../infra/temporal/search-attributes';
import { listAlerts } from '../../../infra/repositories/alerts';
import { createTestApp, storeWithDevice, testConfig, admin, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';
import { breakProjection, push } from '../../support/projections';
import { orphanHealerWorkflow } from '../../../workflows';
import {
  bundleWorkflows,
  connectTestEnvironment,
  recordHistory,
  testLog,
  uniqueName,
} from '../../support/temporal';

// Fiscal ranges on one node, end to end: the API on a fresh database, the node's worker on the real
// Temporal dev server running the FiscalRange workflows. Seed 003 Phase 3 deliverable 9 (backend)
// and Phase 6 suite 4, plus the concurrency, duplicate and ledger cases.

const PEER_TOKEN = 'peer-token-fiscal-test-0123456789';
let app: TestApp;
let shortApp: Awaited<ReturnType<typeof buildApp>>;
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueName('fiscal');
const peer = { authorization: `Bearer ${PEER_TOKEN}` };

beforeAll(async () => {
  [env, bundle] = await Promise.all([connectTestEnvironment(), bundleWorkflows()]);
  // A dev server started before DeviceId was added to scripts/services.ts lacks it.
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  const overrides = {
    NODE_ID: 'node-a',
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    // node-a < peer-z: node-a is the default home of a series first seen here.
    PEERS: JSON.stringify([{ id: 'peer-z', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
    FISCAL_BLOCK_SIZE: '1000',
  };
  const signal = createFiscalExhaustionSignaller(env.client, { NODE_ID: 'node-a' }, testLog);
  app = await createTestApp(overrides, { temporal: env.client, onFiscalExhausted: signal });
  await app.ready();
  // The same node with ranges that live 3 s: the expiry cases.
  shortApp = await buildApp({
    config: Object.freeze(
      configSchema.parse({
        ...process.env,
        ...overrides,
        DATABASE_URL: app.t.url,
        ADMIN_SECRET: app.config.ADMIN_SECRET,
        LOG_LEVEL: 'silent',
        FISCAL_RANGE_TTL_SECONDS: '3',
      }),
    ),
    db: app.t.db,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    temporal: env.client,
    onFiscalExhausted: signal,
    checkTemporal: () => Promise.resolve(),
    checkWorker: () => Promise.resolve(),
  });
  await shortApp.ready();
  worker = await createNodeWorker({
    config: testConfig({ ...overrides, DATABASE_URL: app.t.url }),
    db: app.t.db,
    log: testLog,
    connection: env.nativeConnection,
    workflowBundle: bundle,
  });
  running = worker.run();
});

afterAll(async () => {
  await shortApp?.close();
  if (worker) {
    worker.shutdown();
    await running;
  }
  await app?.close();
  await env?.teardown();
});

interface Range {
  device_id: string;
  range_start: number;
  range_end: number;
  expires_at: string;
}

async function reserve(
  body: { store_id: string; series_id: string; device_id: string; quantity?: number },
  headers: Record<string, string> = admin,
  on: { inject: TestApp['inject'] } = app,
) {
  const res = await on.inject({ method: 'POST', url: '/fiscal/reserve-range', headers, payload: body });
  return { status: res.statusCode, body: res.json<Range & { error?: { code: string; message: string } }>() };
}

async function newStore() {
  const storeId = randomUUID();
  const device = await storeWithDevice(app, storeId);
  return { storeId, device, seriesId: randomUUID() };
}

async function pushSales(
  storeId: string,
  sim: DeviceSim,
  sales: { series: string; number: number; saleId?: string }[],
  headers: Record<string, string>,
) {
  const events = sales.map((s) =>
    sim.event('SaleCreated', {
      sale_id: s.saleId ?? randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 10 }],
      invoice_series_id: s.series,
      fiscal_number: s.number,
    }),
  );
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: storeId, device_id: sim.deviceId, events },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json<{ accepted: string[]; rejected: unknown[] }>();
  expect(body.rejected).toEqual([]);
  return { events, body };
}

async function ledger(storeId: string, seriesId: string, query = '') {
  const res = await app.inject({
    method: 'GET',
    url: `/fiscal/series/${seriesId}/ledger?store_id=${storeId}${query}`,
    headers: admin,
  });
  expect(res.statusCode).toBe(200);
  return res.json<{
    totals: Record<string, number>;
    entries: { number: number; state: string; sales: { sale_id: string }[]; device_id: string | null }[];
    highest_number: number | null;
    next_from: number | null;
  }>();
}

const rangeRow = (storeId: string, deviceId: string) =>
  app.t.db
    .selectFrom('fiscal_sequence_ranges')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('device_id', '=', deviceId)
    .orderBy('range_start')
    .execute();

/** Sale events that use these numbers of the series (from `sim`'s device). */
const salesUsing = (sim: DeviceSim, seriesId: string, numbers: number[]) =>
  numbers.map((n) =>
    sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 10 }],
      invoice_series_id: seriesId,
      fiscal_number: n,
    }),
  );

/** The workflow's result, or 'still running' if it has not ended within `ms`. */
const resultWithin = (handle: { result(): Promise<unknown> }, ms: number) =>
  Promise.race([
    handle.result(),
    new Promise((resolve) => setTimeout(() => resolve('still running'), ms).unref()),
  ]);

const healStore = (storeId: string) =>
  env.client.workflow.execute(orphanHealerWorkflow, {
    taskQueue,
    workflowId: uniqueName('heal'),
    args: [{ batchSize: 50, maxAgeDays: 7, storeId }],
  });

function assertDisjoint(ranges: { range_start: number; range_end: number }[]) {
  const sorted = [...ranges].sort((a, b) => a.range_start - b.range_start);
  for (let i = 1; i < sorted.length; i++)
    expect(sorted[i]!.range_start).toBeGreaterThan(sorted[i - 1]!.range_end);
}

describe('reserveRange (seed 003 deliverable 9)', () => {
  test('assigns a range of consecutive numbers in the seed shape, and a second device gets the next ones', async () => {
    const { storeId, seriesId } = await newStore();
    const a = randomUUID();
    const b = randomUUID();

    const first = await reserve({ store_id: storeId, series_id: seriesId, device_id: a });
    const second = await reserve({ store_id: storeId, series_id: seriesId, device_id: b });

    expect(first.status).toBe(201);
    expect(Object.keys(first.body).sort()).toEqual(['device_id', 'expires_at', 'range_end', 'range_start']);
    expect(first.body).toMatchObject({ device_id: a, range_start: 1, range_end: 50 });
    expect(Date.parse(first.body.expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);
    expect(second.body).toMatchObject({ device_id: b, range_start: 51, range_end: 100 });
  });

  test('a device has one active range per series: asking again returns it with 200', async () => {
    const { storeId, seriesId } = await newStore();
    const device = randomUUID();
    const first = await reserve({ store_id: storeId, series_id: seriesId, device_id: device, quantity: 10 });
    const again = await reserve({ store_id: storeId, series_id: seriesId, device_id: device, quantity: 30 });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await rangeRow(storeId, device)).toHaveLength(1);
  });

  test('a device token reserves for its own device only; quantity is bounded', async () => {
    const { storeId, seriesId, device } = await newStore();
    const own = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId },
      device.headers,
    );
    const other = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: randomUUID() },
      device.headers,
    );
    const tooMany = await reserve({
      store_id: storeId,
      series_id: seriesId,
      device_id: randomUUID(),
      quantity: 100_000,
    });
    expect(own.status).toBe(201);
    expect(other.status).toBe(403);
    expect(tooMany.status).toBe(400);
  });

  test('50 concurrent reservations (SERIALIZABLE race) never overlap, and 20 at once for one device give one range', async () => {
    const { storeId, seriesId } = await newStore();
    const devices = Array.from({ length: 50 }, () => randomUUID());
    const answers = await Promise.all(
      devices.map((d) => reserve({ store_id: storeId, series_id: seriesId, device_id: d })),
    );
    expect(answers.map((a) => a.status)).toEqual(devices.map(() => 201));
    assertDisjoint(answers.map((a) => a.body));
    // Consecutive too: 50 × 50 numbers from 1, nothing skipped.
    expect(Math.min(...answers.map((a) => a.body.range_start))).toBe(1);
    expect(Math.max(...answers.map((a) => a.body.range_end))).toBe(2500);

    const one = randomUUID();
    const same = await Promise.all(
      Array.from({ length: 20 }, () => reserve({ store_id: storeId, series_id: seriesId, device_id: one })),
    );
    expect(same.filter((a) => a.status === 201)).toHaveLength(1);
    expect(new Set(same.map((a) => `${a.body.range_start}-${a.body.range_end}`)).size).toBe(1);
    expect(await rangeRow(storeId, one)).toHaveLength(1);
  });

  test('an exhausted authorised range is a 409 naming the series; a shorter tail is handed out first', async () => {
    const { storeId, seriesId } = await newStore();
    const declared = await app.inject({
      method: 'POST',
      url: '/fiscal/series',
      headers: admin,
      payload: {
        store_id: storeId,
        series_id: seriesId,
        prefix: 'FV',
        first_number: 1001,
        last_number: 1070,
      },
    });
    expect(declared.statusCode).toBe(201);
    const a = await reserve({ store_id: storeId, series_id: seriesId, device_id: randomUUID() });
    const b = await reserve({ store_id: storeId, series_id: seriesId, device_id: randomUUID() });
    const c = await reserve({ store_id: storeId, series_id: seriesId, device_id: randomUUID() });
    expect(a.body).toMatchObject({ range_start: 1001, range_end: 1050 });
    expect(b.body).toMatchObject({ range_start: 1051, range_end: 1070 });
    expect(c.status).toBe(409);
    expect(c.body.error!.code).toBe('FISCAL_SERIES_EXHAUSTED');
    expect(c.body.error!.message).toContain(seriesId);

    const redeclared = await app.inject({
      method: 'POST',
      url: '/fiscal/series',
      headers: admin,
      payload: { store_id: storeId, series_id: seriesId, prefix: 'FV', first_number: 1, last_number: 1070 },
    });
    expect(redeclared.statusCode).toBe(409);
  });

  test('a series whose authorisation has ended (valid_until in the past) is a 409 FISCAL_SERIES_EXPIRED naming it', async () => {
    const { storeId, seriesId } = await newStore();
    const declared = await app.inject({
      method: 'POST',
      url: '/fiscal/series',
      headers: admin,
      payload: {
        store_id: storeId,
        series_id: seriesId,
        prefix: 'FE',
        last_number: 5000,
        valid_until: new Date(Date.now() - 3600_000).toISOString(),
      },
    });
    expect(declared.statusCode).toBe(201);
    const res = await reserve({ store_id: storeId, series_id: seriesId, device_id: randomUUID() });
    expect(res.status).toBe(409);
    expect(res.body.error!.code).toBe('FISCAL_SERIES_EXPIRED');
    expect(res.body.error!.message).toContain(seriesId);
    expect(
      await app.t.db.selectFrom('fiscal_blocks').where('series_id', '=', seriesId).selectAll().execute(),
    ).toEqual([]);
    expect(
      await app.t.db
        .selectFrom('fiscal_sequence_ranges')
        .where('series_id', '=', seriesId)
        .selectAll()
        .execute(),
    ).toEqual([]);
  });

  test('a node that is not the home and cannot reach it answers 503 naming the series, never a range', async () => {
    const { storeId, seriesId } = await newStore();
    await app.inject({
      method: 'POST',
      url: '/fiscal/series',
      headers: admin,
      payload: { store_id: storeId, series_id: seriesId, home_node: 'peer-z' },
    });
    const res = await reserve({ store_id: storeId, series_id: seriesId, device_id: randomUUID() });
    expect(res.status).toBe(503);
    expect(res.body.error!.code).toBe('FISCAL_NO_BLOCK');
    expect(res.body.error!.message).toContain(seriesId);
    expect(
      await app.t.db
        .selectFrom('fiscal_sequence_ranges')
        .where('series_id', '=', seriesId)
        .selectAll()
        .execute(),
    ).toEqual([]);
  });

  test('devices and admins cannot push node-made fiscal events', async () => {
    const { storeId, device } = await newStore();
    const sim = new DeviceSim(storeId, device.deviceId);
    const forged = sim.event('FiscalRangeGranted', {
      range_id: randomUUID(),
      series_id: randomUUID(),
      device_id: device.deviceId,
      node_id: 'node-a',
      block_id: randomUUID(),
      range_start: 1,
      range_end: 1_000_000,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    });
    const res = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: device.headers,
      payload: { store_id: storeId, device_id: device.deviceId, events: [forged] },
    });
    expect(res.json<{ rejected: { code: string }[] }>().rejected.map((r) => r.code)).toEqual([
      'NODE_MADE_EVENT',
    ]);
  });
});

describe('the FiscalRange workflow', () => {
  test('a sale that uses the last number ends the range exhausted (a signal after the commit); the next range follows', async () => {
    const { storeId, seriesId, device } = await newStore();
    const range = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 3 },
      device.headers,
    );
    const [row] = await rangeRow(storeId, device.deviceId);
    const handle = env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id));
    const described = await handle.describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.typedSearchAttributes.get({ name: 'StoreId', type: 'KEYWORD' } as never)).toBe(storeId);
    expect(described.typedSearchAttributes.get({ name: 'DeviceId', type: 'KEYWORD' } as never)).toBe(
      device.deviceId,
    );

    const sim = new DeviceSim(storeId, device.deviceId);
    await pushSales(
      storeId,
      sim,
      [1, 2, 3].map((n) => ({ series: seriesId, number: n })),
      device.headers,
    );

    expect(await handle.result()).toBe('exhausted');
    const [ended] = await rangeRow(storeId, device.deviceId);
    expect(ended!.status).toBe('exhausted');
    const next = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 3 },
      device.headers,
    );
    expect(next.status).toBe(201);
    expect(next.body.range_start).toBe(range.body.range_end + 1);
    await recordHistory(handle, 'fiscal-range-exhausted');
  });

  test('an unused range expires after its TTL (seconds here) and its numbers are never reused (suite 4)', async () => {
    const { storeId, seriesId } = await newStore();
    const device = randomUUID();
    const first = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device },
      admin,
      shortApp,
    );
    expect(first.body).toMatchObject({ range_start: 1, range_end: 50 });
    const [row] = await rangeRow(storeId, device);
    const handle = env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id));

    expect(await handle.result()).toBe('expired');
    const [ended] = await rangeRow(storeId, device);
    expect(ended!.status).toBe('expired');
    const second = await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device },
      admin,
      shortApp,
    );
    expect(second.status).toBe(201);
    expect(second.body.range_start).toBe(51);
    const l = await ledger(storeId, seriesId);
    expect(l.entries.filter((e) => e.number <= 50).every((e) => e.state === 'burned')).toBe(true);
    await recordHistory(handle, 'fiscal-range-expired');
  });
});

describe('a used-up range ends exhausted on every path', () => {
  test('its signal lost: the next reservation gives a new range, not the used-up one, and ends the old one', async () => {
    const { storeId, seriesId, device } = await newStore();
    const body = { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 3 };
    const first = await reserve(body, device.headers);
    expect(first.status).toBe(201);
    const [row] = await rangeRow(storeId, device.deviceId);
    const handle = env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id));
    // Committed without the after-commit signal: what a lost signal leaves behind.
    const sim = new DeviceSim(storeId, device.deviceId);
    const ingested = await push(app.t.db, salesUsing(sim, seriesId, [1, 2, 3]));
    expect(ingested.fiscalExhausted.map((r) => r.range_id)).toEqual([row!.range_id]);
    expect((await rangeRow(storeId, device.deviceId))[0]!.status).toBe('active');

    const next = await reserve(body, device.headers);
    expect(next.status).toBe(201);
    expect(next.body.range_start).toBe(4);
    const rows = await rangeRow(storeId, device.deviceId);
    expect(rows.map((r) => [Number(r.range_start), r.status])).toEqual([
      [1, 'exhausted'],
      [4, 'active'],
    ]);
    // The reservation told the old range's workflow, which ends without waiting for its TTL.
    expect(await resultWithin(handle, 20_000)).toBe('exhausted');
    const again = await reserve(body, device.headers);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(next.body);
  });

  test('its signal lost: the TTL ends it exhausted, not expired', async () => {
    const { storeId, seriesId } = await newStore();
    const device = randomUUID();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device, quantity: 2 },
      admin,
      shortApp,
    );
    const [row] = await rangeRow(storeId, device);
    await push(app.t.db, salesUsing(new DeviceSim(storeId, device), seriesId, [1, 2]));
    await env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id)).result();
    expect((await rangeRow(storeId, device))[0]!.status).toBe('exhausted');
  });

  test('a sale projected by the orphan healer signals the range it used up', async () => {
    const { storeId, seriesId, device } = await newStore();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 2 },
      device.headers,
    );
    const [row] = await rangeRow(storeId, device.deviceId);
    const handle = env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id));
    const broken = await breakProjection(app.t.db, 'sales', storeId);
    const sim = new DeviceSim(storeId, device.deviceId);
    await pushSales(
      storeId,
      sim,
      [1, 2].map((n) => ({ series: seriesId, number: n })),
      device.headers,
    );
    await broken.restore();
    expect((await rangeRow(storeId, device.deviceId))[0]!.status).toBe('active');

    const healed = await healStore(storeId);
    expect(healed.healed).toBe(2);
    expect(await resultWithin(handle, 20_000)).toBe('exhausted');
    expect((await rangeRow(storeId, device.deviceId))[0]!.status).toBe('exhausted');
  });

  test('a range past its time whose workflow never ran is ended by the healer: its numbers are burned', async () => {
    const { storeId, seriesId } = await newStore();
    const device = randomUUID();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device, quantity: 4 },
      admin,
      shortApp,
    );
    const [row] = await rangeRow(storeId, device);
    await push(app.t.db, salesUsing(new DeviceSim(storeId, device), seriesId, [1]));
    // Gone before its timer fired: as if it had never started.
    await env.client.workflow.getHandle(fiscalRangeWorkflowId(row!.range_id)).terminate('test');
    await new Promise((r) => setTimeout(r, 3500));
    expect((await ledger(storeId, seriesId)).totals).toMatchObject({ issued: 1, reserved: 3 });

    await healStore(storeId);
    const [ended] = await rangeRow(storeId, device);
    expect(ended!.status).toBe('expired');
    const closes = await app.t.db
      .selectFrom('events')
      .select('payload')
      .where('store_id', '=', storeId)
      .where('type', '=', 'FiscalRangeClosed')
      .execute();
    expect(closes.map((c) => c.payload)).toEqual([expect.objectContaining({ status: 'expired' })]);
    const l = await ledger(storeId, seriesId);
    expect(l.entries.map((e) => e.state)).toEqual(['issued', 'burned', 'burned', 'burned']);
  });
});

describe('the number check on ingest', () => {
  test('a number used twice raises FISCAL_DUPLICATE (P0); both sales are kept; out-of-range is recorded', async () => {
    const { storeId, seriesId, device } = await newStore();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 10 },
      device.headers,
    );
    const sim = new DeviceSim(storeId, device.deviceId);
    const saleA = randomUUID();
    const saleB = randomUUID();
    await pushSales(storeId, sim, [{ series: seriesId, number: 4, saleId: saleA }], device.headers);
    await pushSales(
      storeId,
      sim,
      [
        { series: seriesId, number: 4, saleId: saleB },
        { series: seriesId, number: 500 },
      ],
      device.headers,
    );

    const sales = await app.t.db.selectFrom('sales').select('id').where('store_id', '=', storeId).execute();
    expect(sales).toHaveLength(3);
    const alerts = await listAlerts(app.t.db, { store_id: storeId, type: 'FISCAL_DUPLICATE' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.severity).toBe('P0');
    expect(alerts[0]!.payload).toMatchObject({ series_id: seriesId, fiscal_number: 4 });
    const out = await app.t.db
      .selectFrom('fiscal_numbers')
      .select(['fiscal_number', 'out_of_range'])
      .where('store_id', '=', storeId)
      .orderBy('fiscal_number')
      .execute();
    expect(out.map((o) => [Number(o.fiscal_number), o.out_of_range])).toEqual([
      [4, false],
      [4, false],
      [500, true],
    ]);
    const l = await ledger(storeId, seriesId, '&from=4&to=4');
    expect(l.entries[0]).toMatchObject({ number: 4, state: 'duplicate' });
    expect(l.entries[0]!.sales.map((s) => s.sale_id).sort()).toEqual([saleA, saleB].sort());
  });

  test('a duplicate arriving from a peer is found too, in the same push transaction', async () => {
    const { storeId, seriesId, device } = await newStore();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 5 },
      device.headers,
    );
    await pushSales(
      storeId,
      new DeviceSim(storeId, device.deviceId),
      [{ series: seriesId, number: 2 }],
      device.headers,
    );
    const remote = new DeviceSim(storeId);
    await pushSales(storeId, remote, [{ series: seriesId, number: 2 }], peer);

    const alerts = await listAlerts(app.t.db, { store_id: storeId, type: 'FISCAL_DUPLICATE' });
    expect(alerts).toHaveLength(1);
    expect((alerts[0]!.payload as { sales: unknown[] }).sales).toHaveLength(2);
  });

  test('the ledger gives every number exactly one state, with totals', async () => {
    const { storeId, seriesId, device } = await newStore();
    await reserve(
      { store_id: storeId, series_id: seriesId, device_id: device.deviceId, quantity: 10 },
      device.headers,
    );
    const sim = new DeviceSim(storeId, device.deviceId);
    const voided = randomUUID();
    await pushSales(
      storeId,
      sim,
      [
        { series: seriesId, number: 1 },
        { series: seriesId, number: 2, saleId: voided },
        { series: seriesId, number: 3 },
        { series: seriesId, number: 3 },
      ],
      device.headers,
    );
    const voidRes = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: device.headers,
      payload: {
        store_id: storeId,
        device_id: device.deviceId,
        events: [sim.event('SaleVoided', { sale_id: voided })],
      },
    });
    expect(voidRes.statusCode).toBe(200);
    // A second device's range expires unused: burned numbers.
    const other = randomUUID();
    await reserve({ store_id: storeId, series_id: seriesId, device_id: other, quantity: 5 }, admin, shortApp);
    const [otherRange] = await rangeRow(storeId, other);
    await env.client.workflow.getHandle(fiscalRangeWorkflowId(otherRange!.range_id)).result();

    const l = await ledger(storeId, seriesId);
    expect(l.highest_number).toBe(15);
    expect(l.entries.map((e) => [e.number, e.state])).toEqual([
      [1, 'issued'],
      [2, 'voided'],
      [3, 'duplicate'],
      ...[4, 5, 6, 7, 8, 9, 10].map((n) => [n, 'reserved']),
      ...[11, 12, 13, 14, 15].map((n) => [n, 'burned']),
    ]);
    expect(l.totals).toEqual({ issued: 1, voided: 1, duplicate: 1, reserved: 7, burned: 5 });
    expect(l.next_from).toBeNull();
  });
});

test('the ledger of an unknown series is a 404', async () => {
  const { storeId } = await newStore();
  const res = await app.inject({
    method: 'GET',
    url: `/fiscal/series/${randomUUID()}/ledger?store_id=${storeId}`,
    headers: admin,
  });
  expect(res.statusCode).toBe(404);
});
