import { randomUUID } from 'node:crypto';
import { createOrderFeed } from '../../../actors/erp/orders';
import { ensureErpSchedules } from '../../../actors/erp/schedules';
import { ingestEvents } from '../../../infra/eventlog/ingest';
import { lockFeedCursor } from '../../../infra/repositories/erp-order-feed';
import type { SyncEvent } from '../../../domain/events/schemas';
import { createJob } from '../../../infra/repositories/erp-sync-jobs';
import { createOrder } from '../../../infra/repositories/erp-orders';
import { erpOrderSweepWorkflow, type ErpOrderSweepInput } from '../../../workflows/erp/order-sweep';
import { admin, storeWithDevice } from '../../support/app';
import { apiKey, registerVendor } from '../../support/erp';
import { FakeErpAgent } from '../../support/erp-agent';
import { createErpStack, eventually, type ErpStack } from '../../support/erp-worker';
import { DeviceSim, type WireEvent } from '../../support/events';
import { recordHistory, testLog } from '../../support/temporal';

// REQ-6's OrderCreated → createOrderJob on this node: POS sales of a store mapped to an ERP vendor
// become ERP orders (the event log is the outbox; the post-commit pass and the order sweep read it),
// end to end with the real API, PostgreSQL, Temporal and a fake agent on a local port.

const PEER_TOKEN = `peer-token-${randomUUID()}`;
let stack: ErpStack;
let agent: FakeErpAgent;
beforeAll(async () => {
  [stack, agent] = await Promise.all([
    createErpStack({
      ERP_ORDER_BACKOFF_SECONDS: '0.25',
      ERP_AGENT_TIMEOUT_MS: '3000',
      ERP_CALLBACK_TIMEOUT_SECONDS: '60',
      PEERS: JSON.stringify([{ id: 'cloud', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
    }),
    new FakeErpAgent().start(),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await agent?.stop();
});

const app = () => stack.app;
const db = () => stack.app.t.db;

async function mappedStore(vendorId: string) {
  const storeId = randomUUID();
  const device = await storeWithDevice(app(), storeId);
  const res = await app().inject({
    method: 'PUT',
    url: `/api/admin/store-vendors/${storeId}`,
    headers: apiKey,
    payload: { vendorId },
  });
  expect(res.statusCode).toBe(200);
  return { storeId, device, sim: new DeviceSim(storeId, device.deviceId) };
}

function sale(sim: DeviceSim, saleId = randomUUID()) {
  return sim.wire('SaleCreated', {
    sale_id: saleId,
    items: [
      { product_id: randomUUID(), qty: 2, unit_price: 3.5 },
      { product_id: randomUUID(), qty: 1, unit_price: 10 },
    ],
    total: 17,
  });
}

async function push(storeId: string, headers: Record<string, string>, events: WireEvent[]) {
  const res = await app().inject({
    method: 'POST',
    url: '/sync/push',
    headers,
    payload: { store_id: storeId, device_id: events[0]!.device_id, events },
  });
  expect(res.statusCode).toBe(200);
  return res.json<{ accepted: string[]; duplicates: string[]; last_node_seq: number | null }>();
}

const sweepInput = (): ErpOrderSweepInput => ({
  graceSeconds: 0,
  limit: 200,
  delivery: {
    policy: { maxAttempts: 5, backoffSeconds: 0.25 },
    agentTimeoutMs: 3000,
    callbackTimeoutSeconds: 60,
  },
});
async function sweep(record?: string) {
  const handle = await stack.env.client.workflow.start(erpOrderSweepWorkflow, {
    workflowId: `erp-order-sweep-test-${randomUUID()}`,
    taskQueue: stack.taskQueue,
    args: [sweepInput()],
  });
  const result = await handle.result();
  if (record) await recordHistory(handle, record);
  return result;
}

const ordersOf = (storeId: string) =>
  db().selectFrom('erp_orders').selectAll().where('store_id', '=', storeId).execute();
const createOrderCalls = (saleId: string) =>
  agent
    .calls('/sync/create-order')
    .filter((c) => (c.body as { order?: { saleId?: string } }).order?.saleId === saleId);
const jobOfOrder = (orderId: string) =>
  db().selectFrom('erp_sync_jobs').selectAll().where('order_id', '=', orderId).execute();
const feedCursor = () =>
  db()
    .selectFrom('erp_order_feed')
    .select(['node_seq', 'updated_at'])
    .where('name', '=', 'sales')
    .executeTakeFirstOrThrow();
/** Until a producer pass has read past `nodeSeq` (the API's post-commit pass may still be on it). */
const cursorPast = (nodeSeq: number) =>
  eventually(async () => (Number((await feedCursor()).node_seq) >= nodeSeq ? true : undefined));

// First in this file: its database has no store → vendor mapping yet.
test('on a node with no store mapped, a push makes no producer transaction (the sweep moves the cursor); a mapping made through the route is seen at once', async () => {
  const storeId = randomUUID();
  const device = await storeWithDevice(app(), storeId);
  const sim = new DeviceSim(storeId, device.deviceId);
  const before = await feedCursor();
  const pushed = await push(storeId, device.headers, [sale(sim)]);
  // A pass of a feed of the test's own (the API's is the same code): it leaves the cursor row alone.
  const feed = createOrderFeed({ client: stack.env.client, db: db(), config: app().config, log: testLog });
  feed.nudge();
  await feed.idle();
  expect(await feedCursor()).toEqual(before);
  await sweep();
  expect(Number((await feedCursor()).node_seq)).toBeGreaterThanOrEqual(pushed.last_node_seq!);

  // The API's check said "none" a moment ago; the mapping route drops that answer.
  const v = await registerVendor(app(), agent.url);
  const mapped = await mappedStore(v.vendorId);
  const saleId = randomUUID();
  expect(
    (await push(mapped.storeId, mapped.device.headers, [sale(mapped.sim, saleId)])).accepted,
  ).toHaveLength(1);
  await eventually(async () => (createOrderCalls(saleId).length === 1 ? true : undefined));
});

test('a push made while another pass holds the feed cursor is still made an order by its own post-commit pass', async () => {
  const v = await registerVendor(app(), agent.url);
  const { storeId, device, sim } = await mappedStore(v.vendorId);
  const saleId = randomUUID();
  await db()
    .transaction()
    .execute(async (trx) => {
      // This holder's snapshot predates the push: it could never read the sale.
      // An earlier test's post-commit pass may still hold the cursor for a moment: wait for it.
      await eventually(async () => ((await lockFeedCursor(trx, 'sales')) !== undefined ? true : undefined));
      expect((await push(storeId, device.headers, [sale(sim, saleId)])).accepted).toHaveLength(1);
      // The push's pass finds the cursor locked meanwhile.
      await new Promise((r) => setTimeout(r, 300));
    });
  // No sweep and no further push: the skipped pass tries again once the cursor is free.
  await eventually(async () => (createOrderCalls(saleId).length === 1 ? true : undefined));
  expect(await ordersOf(storeId)).toHaveLength(1);
});

test('a pass reads on past a full page of duplicates (no jobs) to the sales after it', async () => {
  const v = await registerVendor(app(), agent.url);
  const { storeId, sim } = await mappedStore(v.vendorId);
  // The API's pass after the mapping route is done with the log as it is.
  const head = await db()
    .selectFrom('events')
    .select((eb) => eb.fn.max('node_seq').as('n'))
    .executeTakeFirstOrThrow();
  await cursorPast(Number(head.n));
  // Written to the log directly: no push, so only the test's feed (pages of 2) reads these.
  const ingest = (events: SyncEvent[]) =>
    ingestEvents(db(), events, { nodeId: app().config.NODE_ID, source: 'device' }, testLog);
  const feed = createOrderFeed({
    client: stack.env.client,
    db: db(),
    config: app().config,
    log: testLog,
    pageSize: 2,
  });
  const first = randomUUID();
  const later = randomUUID();
  await ingest([sale(sim, first) as SyncEvent]);
  feed.nudge();
  await feed.idle();
  expect((await ordersOf(storeId)).map((o) => o.sale_id)).toEqual([first]);
  // A page of two repeats of the first sale (no job), then a new sale.
  const last = await ingest([sale(sim, first), sale(sim, first), sale(sim, later)] as SyncEvent[]);
  feed.nudge();
  await feed.idle();
  expect(Number((await feedCursor()).node_seq)).toBeGreaterThanOrEqual(last.lastNodeSeq!);
  expect((await ordersOf(storeId)).map((o) => o.sale_id).sort()).toEqual([first, later].sort());
  await eventually(async () => (createOrderCalls(later).length === 1 ? true : undefined));
});

test('with ERP_SCHEDULES_ENABLED=false the order sweep is still a schedule (the other six are not)', async () => {
  const nodeId = `erp-sched-off-${randomUUID().slice(0, 8)}`;
  const ids = await ensureErpSchedules(stack.env.client, {
    ...app().config,
    NODE_ID: nodeId,
    ERP_SCHEDULES_ENABLED: false,
  });
  try {
    expect(ids).toEqual([`${nodeId}:erp-order-sweep`]);
    const d = await stack.env.client.schedule.getHandle(ids[0]!).describe();
    expect(d.action).toMatchObject({ workflowType: 'erpOrderSweepWorkflow' });
  } finally {
    for (const id of ids) await stack.env.client.schedule.getHandle(id).delete();
  }
});

test('a sale pushed by a device to a mapped store reaches the agent once, with its lines; re-sent, relayed by a peer or under another event id it makes no second order', async () => {
  const v = await registerVendor(app(), agent.url);
  const { storeId, device, sim } = await mappedStore(v.vendorId);
  const saleId = randomUUID();
  const event = sale(sim, saleId);
  expect((await push(storeId, device.headers, [event])).accepted).toEqual([event.event_id]);

  // The post-commit pass makes the order and starts its workflow; no sweep needed.
  const job = await eventually(async () => {
    const [order] = await ordersOf(storeId);
    const [j] = order ? await jobOfOrder(order.id) : [];
    return j?.status === 'completed' ? j : undefined;
  });
  expect(job.workflow_started_at).not.toBeNull();
  const calls = createOrderCalls(saleId);
  expect(calls).toHaveLength(1);
  // The sale's own key, the same on every node: an agent never creates one sale twice.
  expect(calls[0]!.headers['idempotency-key']).toBe(`pos-sale:${storeId}:${saleId}`);
  expect(calls[0]!.body).toMatchObject({
    jobId: job.id,
    vendorId: v.vendorId,
    order: {
      source: 'pos',
      storeId,
      saleId,
      eventId: event.event_id,
      total: 17,
      lines: (event.payload as { items: unknown[] }).items,
    },
  });

  // The same sale again: from the device, relayed by a peer, and as another event with its sale id.
  expect((await push(storeId, device.headers, [event])).duplicates).toEqual([event.event_id]);
  expect((await push(storeId, { authorization: `Bearer ${PEER_TOKEN}` }, [event])).duplicates).toEqual([
    event.event_id,
  ]);
  const again = { ...sale(sim, saleId) };
  const pushed = await push(storeId, device.headers, [again]);
  expect(pushed.accepted).toEqual([again.event_id]);
  await sweep();
  // The sweep may have found the cursor held by the push's own pass: wait until a pass read it.
  await cursorPast(pushed.last_node_seq!);
  const orders = await ordersOf(storeId);
  expect(orders).toHaveLength(1);
  expect(await jobOfOrder(orders[0]!.id)).toHaveLength(1);
  expect(createOrderCalls(saleId)).toHaveLength(1);
  expect(orders[0]!.erp_reference).toBe(job.erp_reference);
});

test('two stores reusing one sale id each get their own order, under their own idempotency key', async () => {
  const v = await registerVendor(app(), agent.url);
  const a = await mappedStore(v.vendorId);
  const b = await mappedStore(v.vendorId);
  const saleId = randomUUID();
  for (const s of [a, b]) {
    expect((await push(s.storeId, s.device.headers, [sale(s.sim, saleId)])).accepted).toHaveLength(1);
  }
  await eventually(async () => (createOrderCalls(saleId).length === 2 ? true : undefined));
  expect(await ordersOf(a.storeId)).toHaveLength(1);
  expect(await ordersOf(b.storeId)).toHaveLength(1);
  const keys = createOrderCalls(saleId).map((c) => c.headers['idempotency-key']);
  expect(keys.sort()).toEqual([`pos-sale:${a.storeId}:${saleId}`, `pos-sale:${b.storeId}:${saleId}`].sort());
});

test('a sale of an unmapped store makes no order; a store mapped to a vendor whose agent is gone still takes its sales', async () => {
  const v = await registerVendor(app(), agent.url);
  const unmapped = randomUUID();
  const device = await storeWithDevice(app(), unmapped);
  const sim = new DeviceSim(unmapped, device.deviceId);
  const pushed = await push(unmapped, device.headers, [sale(sim)]);
  expect(pushed.accepted).toHaveLength(1);
  await sweep();
  await cursorPast(pushed.last_node_seq!);
  expect(await ordersOf(unmapped)).toEqual([]);

  // A bad mapping (its vendor's agent deregistered) is the ERP side's problem: the push is accepted.
  const broken = await mappedStore(v.vendorId);
  const gone = await app().inject({
    method: 'DELETE',
    url: `/api/admin/agents/${v.vendorId}`,
    headers: apiKey,
  });
  expect(gone.statusCode).toBeLessThan(300);
  const s = sale(broken.sim);
  expect((await push(broken.storeId, broken.device.headers, [s])).accepted).toEqual([s.event_id]);
  const rows = await db().selectFrom('sales').select('id').where('store_id', '=', broken.storeId).execute();
  expect(rows).toEqual([{ id: (s.payload as { sale_id: string }).sale_id }]);
});

test('a job committed without its workflow (a crash before the start) is started by the order sweep, once', async () => {
  const v = await registerVendor(app(), agent.url);
  const job = await db()
    .transaction()
    .execute(async (trx) => {
      const o = await createOrder(trx, v.vendorId, { ref: `CRASH-${v.vendorId}` });
      return createJob(trx, {
        vendor_id: v.vendorId,
        order_id: o.id,
        job_type: 'create-order',
        payload: { ref: `CRASH-${v.vendorId}` },
        correlation_id: randomUUID(),
      });
    });
  expect(job.workflow_started_at).toBeNull();
  const first = await sweep('erp-order-sweep');
  expect(first.started).toBeGreaterThanOrEqual(1);
  const done = await eventually(async () => {
    const j = await db()
      .selectFrom('erp_sync_jobs')
      .selectAll()
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    return j.status === 'completed' ? j : undefined;
  });
  expect(done.workflow_started_at).not.toBeNull();
  expect(
    agent.calls('/sync/create-order').filter((c) => c.headers['idempotency-key'] === job.id),
  ).toHaveLength(1);
  const second = await sweep();
  expect(second).toMatchObject({ started: 0, alreadyStarted: 0 });
});

test('store → vendor mappings: an admin route (listed, audited); unknown store or vendor is 404; a device cannot set one', async () => {
  const v = await registerVendor(app(), agent.url);
  const { storeId, device } = await mappedStore(v.vendorId);
  const list = await app().inject({
    method: 'GET',
    url: `/api/admin/store-vendors?vendorId=${v.vendorId}`,
    headers: apiKey,
  });
  expect(list.json()).toMatchObject({
    data: [{ storeId, vendorId: v.vendorId }],
    meta: { page: 1, total: 1, totalPages: 1 },
  });
  const unknownStore = await app().inject({
    method: 'PUT',
    url: `/api/admin/store-vendors/${randomUUID()}`,
    headers: apiKey,
    payload: { vendorId: v.vendorId },
  });
  expect(unknownStore.statusCode).toBe(404);
  const unknownVendor = await app().inject({
    method: 'PUT',
    url: `/api/admin/store-vendors/${storeId}`,
    headers: admin,
    payload: { vendorId: 'vendor-none' },
  });
  expect(unknownVendor.json()).toMatchObject({ error: { code: 'AGENT_NOT_FOUND' } });
  const byDevice = await app().inject({
    method: 'PUT',
    url: `/api/admin/store-vendors/${storeId}`,
    headers: device.headers,
    payload: { vendorId: v.vendorId },
  });
  expect(byDevice.statusCode).toBe(403);
  const removed = await app().inject({
    method: 'DELETE',
    url: `/api/admin/store-vendors/${storeId}`,
    headers: apiKey,
  });
  expect(removed.statusCode).toBe(200);
  expect(removed.json()).toMatchObject({ storeId, vendorId: v.vendorId });
  expect(
    (await app().inject({ method: 'DELETE', url: `/api/admin/store-vendors/${storeId}`, headers: apiKey }))
      .statusCode,
  ).toBe(404);
  const trail = await db()
    .selectFrom('erp_audit_log')
    .select('action')
    .where('target_id', '=', storeId)
    .orderBy('id')
    .execute();
  expect(trail).toEqual([{ action: 'store-vendor.set' }, { action: 'store-vendor.delete' }]);
});
