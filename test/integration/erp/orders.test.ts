import { erpOrderWorkflowId } from '../../../workflows/erp/ids';
import type { DeliveryOutcome } from '../../../domain/erp/delivery';
import { apiKey, registerVendor } from '../../support/erp';
import { FakeErpAgent } from '../../support/erp-agent';
import { createErpStack, eventually, type ErpStack } from '../../support/erp-worker';
import { recordHistory } from '../../support/temporal';

// REQ-6, 7, 8 and REQ-16 scenarios 7-9 end to end: the real API, PostgreSQL, Temporal dev server and
// the node's worker, with a fake ERP agent on a local HTTP port. Backoff is a quarter second here.

let stack: ErpStack;
let agent: FakeErpAgent;
beforeAll(async () => {
  [stack, agent] = await Promise.all([
    createErpStack({
      ERP_ORDER_BACKOFF_SECONDS: '0.25',
      ERP_AGENT_TIMEOUT_MS: '3000',
      ERP_CALLBACK_TIMEOUT_SECONDS: '60',
    }),
    new FakeErpAgent().start(),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await agent?.stop();
});
beforeEach(() => {
  agent.orderMode = 'complete';
});

const app = () => stack.app;
async function testOrder(vendorId: string) {
  const res = await app().inject({
    method: 'POST',
    url: '/api/admin/orders/test',
    headers: { ...apiKey, 'x-correlation-id': `corr-${vendorId}` },
    payload: { vendorId, order: { ref: `R-${vendorId}`, total: 12.5 } },
  });
  expect(res.statusCode).toBe(202);
  return res.json<{ jobId: string; orderId: string; workflowId: string; correlationId: string }>();
}
const result = (jobId: string) =>
  stack.env.client.workflow.getHandle(erpOrderWorkflowId(jobId)).result() as Promise<DeliveryOutcome>;
const job = (jobId: string) =>
  app().t.db.selectFrom('erp_sync_jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow();
const callsFor = (jobId: string) =>
  agent.calls('/sync/create-order').filter((c) => c.headers['idempotency-key'] === jobId);
const callback = (headers: Record<string, string>, payload: Record<string, unknown>) =>
  app().inject({ method: 'POST', url: '/api/agents/callback', headers, payload });

test('an order goes to the agent once, with the job id as idempotency key and the correlation id; the ERP reference lands on order and job', async () => {
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  expect(started.workflowId).toBe(`erp-order:${started.jobId}`);
  expect(await result(started.jobId)).toEqual({
    status: 'completed',
    erpReference: expect.stringMatching(/^ERP-/),
    attempts: 1,
  });

  const j = await job(started.jobId);
  expect(j).toMatchObject({ status: 'completed', attempts: 1, correlation_id: `corr-${v.vendorId}` });
  const order = await app()
    .t.db.selectFrom('erp_orders')
    .selectAll()
    .where('id', '=', started.orderId)
    .executeTakeFirstOrThrow();
  expect(order.erp_reference).toBe(j.erp_reference);
  const [call] = callsFor(started.jobId);
  expect(call!.headers['x-correlation-id']).toBe(`corr-${v.vendorId}`);
  expect(call!.headers.authorization).toBe(`Bearer ${app().config.AGENT_SECRET}`);
  expect(call!.body).toMatchObject({
    jobId: started.jobId,
    vendorId: v.vendorId,
    order: { ref: `R-${v.vendorId}` },
  });

  // Searchable by vendor in the Temporal UI.
  const found = await eventually(async () => {
    const ids: string[] = [];
    for await (const w of stack.env.client.workflow.list({ query: `ErpVendorId = '${v.vendorId}'` }))
      ids.push(w.workflowId);
    return ids.length > 0 ? ids : undefined;
  });
  expect(found).toEqual([started.workflowId]);
  const status = await app().inject({
    method: 'GET',
    url: `/api/admin/sync-status/${started.jobId}`,
    headers: apiKey,
  });
  expect(status.json()).toMatchObject({
    id: started.jobId,
    status: 'completed',
    erpReference: j.erp_reference,
  });
});

test('an accepted order completes on the callback signal; a repeated callback is idempotent; another vendor gets 403', async () => {
  agent.orderMode = 'accept';
  const v = await registerVendor(app(), agent.url);
  const other = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  await eventually(async () => (callsFor(started.jobId).length > 0 ? true : undefined));
  expect(
    (await callback(other.headers, { jobId: started.jobId, status: 'completed', erpReference: 'X' }))
      .statusCode,
  ).toBe(403);

  const first = await callback(v.headers, {
    jobId: started.jobId,
    status: 'completed',
    erpReference: 'ERP-CB-1',
  });
  expect(first.statusCode).toBe(200);
  expect(await result(started.jobId)).toMatchObject({ status: 'completed', erpReference: 'ERP-CB-1' });
  const again = await callback(v.headers, {
    jobId: started.jobId,
    status: 'completed',
    erpReference: 'ERP-CB-2',
  });
  expect([again.statusCode, again.json()]).toEqual([200, { jobId: started.jobId, status: 'completed' }]);
  expect(await job(started.jobId)).toMatchObject({ status: 'completed', erp_reference: 'ERP-CB-1' });
  const order = await app()
    .t.db.selectFrom('erp_orders')
    .select('erp_reference')
    .where('id', '=', started.orderId)
    .executeTakeFirstOrThrow();
  expect(order.erp_reference).toBe('ERP-CB-1');
  expect(callsFor(started.jobId)).toHaveLength(1);
});

test('a failed callback sends the job through its retry policy: the next attempt, same idempotency key', async () => {
  agent.orderMode = 'accept';
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  await eventually(async () => (callsFor(started.jobId).length === 1 ? true : undefined));
  expect(
    (await callback(v.headers, { jobId: started.jobId, status: 'failed', error: 'ERP locked' })).statusCode,
  ).toBe(200);
  await eventually(async () => (callsFor(started.jobId).length === 2 ? true : undefined));
  await callback(v.headers, { jobId: started.jobId, status: 'completed', erpReference: 'ERP-AFTER-RETRY' });
  expect(await result(started.jobId)).toEqual({
    status: 'completed',
    erpReference: 'ERP-AFTER-RETRY',
    attempts: 2,
  });
  expect(agent.orders.has(started.jobId)).toBe(true);
  expect(await job(started.jobId)).toMatchObject({ attempts: 2, status: 'completed' });
  await recordHistory(stack.env.client.workflow.getHandle(started.workflowId), 'erp-order-delivery');
});

test('the agent down: exactly 5 calls, the breaker opens, the job is dead-lettered with its own payload copy; retry after reset succeeds', async () => {
  agent.orderMode = 'down';
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  expect(await result(started.jobId)).toMatchObject({ status: 'dead_lettered', attempts: 5 });
  expect(callsFor(started.jobId)).toHaveLength(5);
  expect(await job(started.jobId)).toMatchObject({ status: 'failed', attempts: 5 });

  const breakers = await app().inject({
    method: 'GET',
    url: `/api/admin/circuit-breaker/status?vendorId=${v.vendorId}`,
    headers: apiKey,
  });
  expect(breakers.json()).toEqual({
    data: [expect.objectContaining({ key: `${v.vendorId}:orders`, state: 'open', calls: 5, failures: 5 })],
    meta: { page: 1, limit: 50, total: 1, totalPages: 1 },
  });
  const alert = await app()
    .t.db.selectFrom('alerts')
    .selectAll()
    .where('type', '=', 'circuit_breaker_open')
    .where('subject', 'like', `%${v.vendorId}:orders%`)
    .execute();
  expect(alert).toHaveLength(1);
  expect(alert[0]!.store_id).toBeNull();

  const dlq = await app().inject({
    method: 'GET',
    url: `/api/admin/dlq?vendorId=${v.vendorId}`,
    headers: apiKey,
  });
  const list = dlq.json<{
    data: { id: string; jobId: string; payload: Record<string, unknown>; attempts: number }[];
    meta: { total: number };
  }>();
  expect(list.meta.total).toBe(1);
  const entry = list.data[0]!;
  expect(entry).toMatchObject({
    jobId: started.jobId,
    attempts: 5,
    payload: { orderId: started.orderId, payload: { ref: `R-${v.vendorId}` } },
  });
  const detail = await app().inject({ method: 'GET', url: `/api/admin/dlq/${entry.id}`, headers: apiKey });
  expect(detail.json()).toMatchObject({ id: entry.id, error: expect.stringContaining('503') });

  // While the breaker is open a retry's first call is not even made; reset it, bring the agent back.
  const reset = await app().inject({
    method: 'POST',
    url: '/api/admin/circuit-breaker/reset',
    headers: apiKey,
    payload: { vendorId: v.vendorId },
  });
  expect(reset.json()).toEqual({ reset: 1 });
  agent.orderMode = 'complete';
  const retry = await app().inject({
    method: 'POST',
    url: `/api/admin/dlq/${entry.id}/retry`,
    headers: apiKey,
  });
  expect(retry.statusCode).toBe(202);
  const retried = retry.json<{ jobId: string; workflowId: string }>();
  expect(retried.jobId).not.toBe(started.jobId);
  expect(await result(retried.jobId)).toMatchObject({ status: 'completed', attempts: 1 });
  const order = await app()
    .t.db.selectFrom('erp_orders')
    .select('erp_reference')
    .where('id', '=', started.orderId)
    .executeTakeFirstOrThrow();
  expect(order.erp_reference).toMatch(/^ERP-/);

  expect(
    (
      await app().inject({ method: 'GET', url: `/api/admin/dlq?vendorId=${v.vendorId}`, headers: apiKey })
    ).json(),
  ).toMatchObject({ meta: { total: 0 } });
  expect(
    (await app().inject({ method: 'POST', url: `/api/admin/dlq/${entry.id}/retry`, headers: apiKey }))
      .statusCode,
  ).toBe(404);
  const trail = await app()
    .t.db.selectFrom('erp_audit_log')
    .select(['action', 'actor'])
    .where('target_id', 'in', [entry.id, v.vendorId])
    .orderBy('id')
    .execute();
  expect(trail).toEqual([
    { action: 'breaker.reset', actor: 'admin:api-key' },
    { action: 'dlq.retry', actor: 'admin:api-key' },
  ]);
});

test('a dead letter resolved by hand is audited; resolving it twice is 409', async () => {
  agent.orderMode = 'refuse';
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  expect(await result(started.jobId)).toMatchObject({ status: 'dead_lettered' });
  const entry = (
    await app().inject({ method: 'GET', url: `/api/admin/dlq?vendorId=${v.vendorId}`, headers: apiKey })
  ).json<{ data: { id: string }[] }>().data[0]!;
  const resolve = await app().inject({
    method: 'POST',
    url: `/api/admin/dlq/${entry.id}/resolve`,
    headers: apiKey,
    payload: { resolution: 'entered in the ERP by hand' },
  });
  expect(resolve.statusCode).toBe(200);
  expect(resolve.json()).toMatchObject({
    resolvedBy: 'admin:api-key',
    resolution: 'entered in the ERP by hand',
  });
  expect(
    (
      await app().inject({
        method: 'POST',
        url: `/api/admin/dlq/${entry.id}/resolve`,
        headers: apiKey,
        payload: {},
      })
    ).statusCode,
  ).toBe(409);
  const trail = await app()
    .t.db.selectFrom('erp_audit_log')
    .select('action')
    .where('target_id', '=', entry.id)
    .execute();
  expect(trail).toEqual([{ action: 'dlq.resolve' }]);

  const metrics = await app().inject({
    method: 'GET',
    url: `/api/admin/metrics/${v.vendorId}`,
    headers: apiKey,
  });
  expect(metrics.json()).toMatchObject({
    vendorId: v.vendorId,
    total: 1,
    failed: 1,
    completed: 0,
    successRate: 0,
    retryRate: 1,
  });
});

test('a late completed callback to a dead-lettered job resolves the open dead letters of its order (audited); the DLQ retry keeps the original idempotency key and the request correlation id', async () => {
  agent.orderMode = 'refuse';
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  expect(await result(started.jobId)).toMatchObject({ status: 'dead_lettered' });
  const openDlq = async () =>
    (
      await app().inject({ method: 'GET', url: `/api/admin/dlq?vendorId=${v.vendorId}`, headers: apiKey })
    ).json<{ data: { id: string; jobId: string }[]; meta: { total: number } }>();
  const [first] = (await openDlq()).data;

  // The retry is a new job that shows the agent the first job's key (the agent dedups on it). The
  // refusals opened the breaker: closed again, so the retry's calls reach the agent.
  const resetBreaker = () =>
    app().inject({
      method: 'POST',
      url: '/api/admin/circuit-breaker/reset',
      headers: apiKey,
      payload: { vendorId: v.vendorId },
    });
  await resetBreaker();
  const jobsCreated = async () => {
    const text = (await app().inject({ method: 'GET', url: '/metrics' })).body;
    return Number(/^velox_erp_order_jobs_total\{event="created"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  const createdBefore = await jobsCreated();
  const retry = await app().inject({
    method: 'POST',
    url: `/api/admin/dlq/${first!.id}/retry`,
    headers: { ...apiKey, 'x-correlation-id': `retry-${v.vendorId}` },
  });
  expect(retry.statusCode).toBe(202);
  const retried = retry.json<{ jobId: string }>().jobId;
  expect(await jobsCreated()).toBe(createdBefore + 1);
  expect(await result(retried)).toMatchObject({ status: 'dead_lettered' });
  const retryCalls = agent
    .calls('/sync/create-order')
    .filter((c) => (c.body as { jobId: string }).jobId === retried);
  expect(retryCalls).toHaveLength(5);
  expect(retryCalls.every((c) => c.headers['idempotency-key'] === started.jobId)).toBe(true);
  expect(retryCalls[0]!.headers['x-correlation-id']).toBe(`retry-${v.vendorId}`);
  expect(await job(retried)).toMatchObject({ correlation_id: `retry-${v.vendorId}` });
  const [second] = (await openDlq()).data;
  expect(second!.jobId).toBe(retried);

  // The ERP did create the first job's order after all: its late callback completes job and order
  // and resolves the retry's dead letter in the same transaction.
  const late = await callback(v.headers, {
    jobId: started.jobId,
    status: 'completed',
    erpReference: 'ERP-LATE-1',
  });
  expect(late.json()).toEqual({ jobId: started.jobId, status: 'completed' });
  expect(await job(started.jobId)).toMatchObject({ status: 'completed', erp_reference: 'ERP-LATE-1' });
  expect(await openDlq()).toMatchObject({ meta: { total: 0 } });
  const resolved = await app()
    .t.db.selectFrom('erp_dead_letters')
    .selectAll()
    .where('id', '=', second!.id)
    .executeTakeFirstOrThrow();
  expect(resolved).toMatchObject({
    resolved_by: 'callback',
    resolution: expect.stringContaining('ERP-LATE-1'),
  });
  const trail = await app()
    .t.db.selectFrom('erp_audit_log')
    .select(['action', 'actor'])
    .where('target_id', '=', second!.id)
    .execute();
  expect(trail).toEqual([{ action: 'dlq.resolve', actor: `agent:${v.vendorId}` }]);
  const order = await app()
    .t.db.selectFrom('erp_orders')
    .select('erp_reference')
    .where('id', '=', started.orderId)
    .executeTakeFirstOrThrow();
  expect(order.erp_reference).toBe('ERP-LATE-1');
});

test('a retry of a dead letter whose order the ERP already has is refused with 409 ORDER_ALREADY_COMPLETED and creates no job', async () => {
  agent.orderMode = 'refuse';
  const v = await registerVendor(app(), agent.url);
  const started = await testOrder(v.vendorId);
  expect(await result(started.jobId)).toMatchObject({ status: 'dead_lettered' });
  const [entry] = (
    await app().inject({ method: 'GET', url: `/api/admin/dlq?vendorId=${v.vendorId}`, headers: apiKey })
  ).json<{ data: { id: string }[] }>().data;
  // A dead letter left open while its order completed (an earlier version, or a race with the
  // callback): the order has the ERP's reference.
  await app()
    .t.db.updateTable('erp_orders')
    .set({ erp_reference: 'ERP-ELSEWHERE' })
    .where('id', '=', started.orderId)
    .execute();
  const retry = await app().inject({
    method: 'POST',
    url: `/api/admin/dlq/${entry!.id}/retry`,
    headers: apiKey,
  });
  expect([retry.statusCode, retry.json()]).toEqual([
    409,
    { error: expect.objectContaining({ code: 'ORDER_ALREADY_COMPLETED' }) },
  ]);
  const jobs = await app()
    .t.db.selectFrom('erp_sync_jobs')
    .select('id')
    .where('order_id', '=', started.orderId)
    .execute();
  expect(jobs).toEqual([{ id: started.jobId }]);
});
