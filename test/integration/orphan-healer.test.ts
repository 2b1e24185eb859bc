import { testConfig } from '../support/app';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createOrphanHealerActivities, type OrphanHealInput } from '../../activities/orphan-healer';
import type { Db } from '../../infra/db';
import { ingestEvents } from '../../infra/eventlog/ingest';
import { hashPayload } from '../../domain/events/hash';
import type { SyncEvent } from '../../domain/events/schemas';
import { createNodeWorker } from '../../app/worker';
import { orphanHealerWorkflow } from '../../workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { DeviceSim } from '../support/events';
import { breakProjection } from '../support/projections';
import {
  bundleWorkflows,
  connectTestEnvironment,
  recordHistory,
  testLog,
  uniqueName,
} from '../support/temporal';

// The orphan healer end to end: real PostgreSQL, real Temporal dev server, the workflow run by the
// node's own worker. Each test uses a store of its own and heals only that store, so tests do not
// see each other's orphans.

let tdb: TestDatabase;
let db: Db;
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueName('orphan-healer');

beforeAll(async () => {
  [tdb, env, bundle] = await Promise.all([
    createTestDatabase('orphan'),
    connectTestEnvironment(),
    bundleWorkflows(),
  ]);
  db = tdb.db;
  worker = await createNodeWorker({
    config: testConfig({ TEMPORAL_NAMESPACE: env.namespace ?? 'default', TEMPORAL_TASK_QUEUE: taskQueue }),
    db,
    log: testLog,
    connection: env.nativeConnection,
    workflowBundle: bundle,
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running;
  }
  await env?.teardown();
  await tdb?.drop();
});

const LIMITS = { batchSize: 50, maxAgeDays: 7 };

async function heal(storeId: string, limits = LIMITS) {
  const workflowId = uniqueName('heal');
  const result = await env.client.workflow.execute(orphanHealerWorkflow, {
    taskQueue,
    workflowId,
    args: [{ ...limits, storeId }],
  });
  return { result, handle: env.client.workflow.getHandle(workflowId) };
}

async function ingest(events: SyncEvent[]) {
  return ingestEvents(db, events, { nodeId: 'node-a', source: 'device' }, testLog);
}

/** Ingests while `table` refuses the store's rows: the events are kept, their projection fails. */
async function ingestOrphans(table: 'sales' | 'debts' | 'debt_payments', events: SyncEvent[]) {
  const broken = await breakProjection(db, table, events[0]!.store_id);
  const result = await ingest(events);
  await broken.restore();
  expect(result.accepted).toHaveLength(events.length);
  expect(result.projectionFailures.map((f) => f.event_id).sort()).toEqual(
    events.map((e) => e.event_id).sort(),
  );
  return result;
}

/**
 * Writes event rows as a node version without inline projection did: logged, never projected
 * (projection_status 'pending', no attempts). `payload` overrides what is stored.
 */
async function insertLeftovers(events: SyncEvent[], opts: { receivedAt?: Date; payload?: unknown } = {}) {
  await db
    .insertInto('events')
    .values(
      events.map((e) => ({
        event_id: e.event_id,
        store_id: e.store_id,
        device_id: e.device_id,
        seq: e.seq,
        type: e.type,
        vector_clock: JSON.stringify(e.vector_clock),
        payload: JSON.stringify(opts.payload ?? e.payload),
        full_payload_hash: hashPayload(opts.payload ?? e.payload),
        created_at: e.created_at,
        hlc: e.created_at,
        ...(opts.receivedAt ? { received_at: opts.receivedAt } : {}),
        origin_node: 'node-old',
        actor_user_id: e.actor_user_id ?? null,
        source: 'device' as const,
        projection_status: 'pending' as const,
        projection_error: null,
      })),
    )
    .execute();
}

function eventRow(eventId: string) {
  return db
    .selectFrom('events')
    .select(['projection_status', 'projection_error', 'projection_attempts'])
    .where('event_id', '=', eventId)
    .executeTakeFirstOrThrow();
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);

function saleEvent(device: DeviceSim, opts: { qty?: number; unitPrice?: number } = {}) {
  const qty = opts.qty ?? 2;
  const unitPrice = opts.unitPrice ?? 5;
  return device.event('SaleCreated', {
    sale_id: randomUUID(),
    warehouse_id: WAREHOUSE,
    items: [{ product_id: PRODUCT, qty, unit_price: unitPrice }],
    total: qty * unitPrice,
  });
}
const WAREHOUSE = randomUUID();
const PRODUCT = randomUUID();

test('a SaleCreated without its sales row is healed: sale, lines and stock movement appear', async () => {
  const store = randomUUID();
  const sale = saleEvent(new DeviceSim(store), { qty: 2, unitPrice: 5 });
  await ingestOrphans('sales', [sale]);
  expect(await eventRow(sale.event_id)).toMatchObject({
    projection_status: 'failed',
    projection_attempts: 1,
  });
  const saleId = (sale.payload as { sale_id: string }).sale_id;
  expect(await db.selectFrom('sales').select('id').where('id', '=', saleId).execute()).toHaveLength(0);

  const { result, handle } = await heal(store);

  expect(result).toEqual({
    checked: 1,
    healed: 1,
    failed: 0,
    details: [{ event_id: sale.event_id, type: 'SaleCreated', status: 'healed' }],
  });
  const row = await db.selectFrom('sales').selectAll().where('id', '=', saleId).executeTakeFirstOrThrow();
  expect(row).toMatchObject({ store_id: store, event_id: sale.event_id, total: '10.00' });
  expect(await db.selectFrom('sale_items').selectAll().where('sale_id', '=', saleId).execute()).toHaveLength(
    1,
  );
  const movements = await db
    .selectFrom('stock_movements')
    .selectAll()
    .where('event_id', '=', sale.event_id)
    .execute();
  expect(movements.map((m) => Number(m.qty_delta))).toEqual([-2]);
  expect(await eventRow(sale.event_id)).toEqual({
    projection_status: 'processed',
    projection_error: null,
    projection_attempts: 2,
  });

  await recordHistory(handle, 'orphan-healer');
});

test('a DebtCreated without its debts row is healed', async () => {
  const store = randomUUID();
  const debtId = randomUUID();
  const debt = new DeviceSim(store).event('DebtCreated', {
    debt_id: debtId,
    amount: 100,
    customer_id: randomUUID(),
  });
  await ingestOrphans('debts', [debt]);

  const { result } = await heal(store);

  expect(result).toMatchObject({ checked: 1, healed: 1, failed: 0 });
  expect(result.details).toEqual([{ event_id: debt.event_id, type: 'DebtCreated', status: 'healed' }]);
  const row = await db.selectFrom('debts').selectAll().where('id', '=', debtId).executeTakeFirstOrThrow();
  expect(row).toMatchObject({ total_amount: '100.00', remaining_amount: '100.00', status: 'pending' });
  expect(await eventRow(debt.event_id)).toMatchObject({
    projection_status: 'processed',
    projection_error: null,
  });
});

test('a DebtPaymentRecorded without its debt_payments row is healed and counted on its debt', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const debtId = randomUUID();
  const paymentId = randomUUID();
  const debtResult = await ingest([device.event('DebtCreated', { debt_id: debtId, amount: 100 })]);
  expect(debtResult.projectionFailures).toEqual([]);
  const payment = device.event('DebtPaymentRecorded', { payment_id: paymentId, debt_id: debtId, amount: 30 });
  await ingestOrphans('debt_payments', [payment]);
  expect(
    await db
      .selectFrom('debts')
      .select('remaining_amount')
      .where('id', '=', debtId)
      .executeTakeFirstOrThrow(),
  ).toEqual({ remaining_amount: '100.00' });

  const { result } = await heal(store);

  expect(result.details).toEqual([
    { event_id: payment.event_id, type: 'DebtPaymentRecorded', status: 'healed' },
  ]);
  expect(
    await db.selectFrom('debt_payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow(),
  ).toMatchObject({
    debt_id: debtId,
    amount: '30.00',
  });
  expect(
    await db
      .selectFrom('debts')
      .select(['paid_amount', 'remaining_amount', 'status'])
      .where('id', '=', debtId)
      .executeTakeFirstOrThrow(),
  ).toEqual({ paid_amount: '30.00', remaining_amount: '70.00', status: 'partial' });
});

test('healing is idempotent: a second run finds no orphans and changes nothing', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const sales = [saleEvent(device), saleEvent(device)];
  await insertLeftovers(sales);

  const first = await heal(store);
  expect(first.result).toMatchObject({ checked: 2, healed: 2, failed: 0 });
  const movementsAfterFirst = await db
    .selectFrom('stock_movements')
    .selectAll()
    .where('store_id', '=', store)
    .execute();
  const stockAfterFirst = await db
    .selectFrom('warehouse_stock')
    .selectAll()
    .where('store_id', '=', store)
    .execute();

  const second = await heal(store);

  expect(second.result).toEqual({ checked: 0, healed: 0, failed: 0, details: [] });
  expect(await db.selectFrom('sales').select('id').where('store_id', '=', store).execute()).toHaveLength(2);
  expect(await db.selectFrom('stock_movements').selectAll().where('store_id', '=', store).execute()).toEqual(
    movementsAfterFirst,
  );
  expect(await db.selectFrom('warehouse_stock').selectAll().where('store_id', '=', store).execute()).toEqual(
    stockAfterFirst,
  );
  expect(stockAfterFirst.map((s) => Number(s.stock))).toEqual([-4]);
  for (const s of sales) expect((await eventRow(s.event_id)).projection_attempts).toBe(1);
});

test('events already processed are not touched', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const processed = saleEvent(device);
  expect((await ingest([processed])).projectionFailures).toEqual([]);
  const orphan = saleEvent(device);
  await insertLeftovers([orphan]);

  const { result } = await heal(store);

  expect(result.checked).toBe(1);
  expect(result.details.map((d) => d.event_id)).toEqual([orphan.event_id]);
  expect(await eventRow(processed.event_id)).toEqual({
    projection_status: 'processed',
    projection_error: null,
    projection_attempts: 1,
  });
});

test('events received more than maxAgeDays ago are left alone', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const stale = saleEvent(device);
  const recent = saleEvent(device);
  await insertLeftovers([stale], { receivedAt: daysAgo(8) });
  await insertLeftovers([recent], { receivedAt: daysAgo(6) });

  const { result } = await heal(store);

  expect(result.details).toEqual([{ event_id: recent.event_id, type: 'SaleCreated', status: 'healed' }]);
  expect(await eventRow(stale.event_id)).toEqual({
    projection_status: 'pending',
    projection_error: null,
    projection_attempts: 0,
  });
  const staleSale = (stale.payload as { sale_id: string }).sale_id;
  expect(await db.selectFrom('sales').select('id').where('id', '=', staleSale).execute()).toHaveLength(0);
});

test('projection errors are recorded on the event, and the rest of the batch still heals', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  // 1. Its table keeps refusing it while the healer runs.
  const debt = device.event('DebtCreated', { debt_id: randomUUID(), amount: 50 });
  await ingestOrphans('debts', [debt]);
  // 2. Left by an older version with a payload the current contract refuses (no lines).
  const malformed = saleEvent(device);
  await insertLeftovers([malformed], { payload: { sale_id: randomUUID(), items: [] } });
  // 3. A healthy orphan in the same batch.
  const healthy = saleEvent(device);
  await insertLeftovers([healthy]);

  const broken = await breakProjection(db, 'debts', store);
  const { result } = await heal(store).finally(() => broken.restore());

  expect(result).toMatchObject({ checked: 3, healed: 1, failed: 2 });
  const byId = new Map(result.details.map((d) => [d.event_id, d]));
  expect(byId.get(healthy.event_id)).toEqual({
    event_id: healthy.event_id,
    type: 'SaleCreated',
    status: 'healed',
  });
  expect(byId.get(debt.event_id)).toMatchObject({
    status: 'failed',
    error: expect.stringContaining('debts unavailable'),
  });
  expect(byId.get(malformed.event_id)).toMatchObject({
    status: 'failed',
    error: expect.stringContaining('invalid SaleCreated payload: items'),
  });
  expect(await eventRow(debt.event_id)).toEqual({
    projection_status: 'failed',
    projection_error: expect.stringContaining('debts unavailable'),
    projection_attempts: 2,
  });
  expect(await eventRow(malformed.event_id)).toMatchObject({
    projection_status: 'failed',
    projection_attempts: 1,
  });
  expect(await eventRow(healthy.event_id)).toMatchObject({
    projection_status: 'processed',
    projection_attempts: 1,
  });

  // Once the cause is gone, the next pass heals what it can; the malformed event stays failed.
  const again = await heal(store);
  expect(again.result).toMatchObject({ checked: 2, healed: 1, failed: 1 });
  expect(await eventRow(debt.event_id)).toEqual({
    projection_status: 'processed',
    projection_error: null,
    projection_attempts: 3,
  });
});

test('one run heals at most batchSize events, oldest first: 60 orphans take 50, then 10', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const sales = Array.from({ length: 60 }, () => saleEvent(device, { qty: 1 }));
  await insertLeftovers(sales);

  const first = await heal(store);
  expect(first.result).toMatchObject({ checked: 50, healed: 50, failed: 0 });
  expect(first.result.details.map((d) => d.event_id)).toEqual(sales.slice(0, 50).map((s) => s.event_id));

  const second = await heal(store);
  expect(second.result).toMatchObject({ checked: 10, healed: 10, failed: 0 });
  expect(second.result.details.map((d) => d.event_id)).toEqual(sales.slice(50).map((s) => s.event_id));

  expect((await heal(store)).result.checked).toBe(0);
  expect(await db.selectFrom('sales').select('id').where('store_id', '=', store).execute()).toHaveLength(60);
});

test('events that keep failing go to the back of the queue instead of starving new orphans', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const malformed = Array.from({ length: 3 }, () => saleEvent(device));
  await insertLeftovers(malformed, { payload: { sale_id: randomUUID(), items: [] } });
  expect((await heal(store, { batchSize: 3, maxAgeDays: 7 })).result.failed).toBe(3);
  const fresh = saleEvent(device);
  await insertLeftovers([fresh]);

  const { result } = await heal(store, { batchSize: 3, maxAgeDays: 7 });

  expect(result.details[0]).toEqual({ event_id: fresh.event_id, type: 'SaleCreated', status: 'healed' });
});

test('concurrent passes never claim the same event (SKIP LOCKED)', async () => {
  const store = randomUUID();
  const device = new DeviceSim(store);
  const sales = Array.from({ length: 20 }, () => saleEvent(device, { qty: 1 }));
  await insertLeftovers(sales);
  const { healOrphans } = createOrphanHealerActivities({ db, log: testLog, config: testConfig() });
  const input: OrphanHealInput = { batchSize: 8, maxAgeDays: 7, storeId: store };

  const results = await Promise.all([healOrphans(input), healOrphans(input), healOrphans(input)]);

  const claimed = results.flatMap((r) => r.details.map((d) => d.event_id));
  expect(new Set(claimed).size).toBe(claimed.length);
  expect(claimed.length).toBeGreaterThanOrEqual(8);
  const attempts = await db
    .selectFrom('events')
    .select('projection_attempts')
    .where('store_id', '=', store)
    .execute();
  expect(Math.max(...attempts.map((a) => a.projection_attempts))).toBe(1);
});
