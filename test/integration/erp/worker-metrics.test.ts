import { createServer, type AddressInfo } from 'node:net';
import { Client, Connection, ScheduleClient } from '@temporalio/client';
import { startNode, type RunningNode } from '../../../app/node';
import type { DeliveryOutcome } from '../../../domain/erp/delivery';
import { erpOrderWorkflowId, erpReconcileWorkflowId } from '../../../workflows/erp/ids';
import { AGENT_SECRET, apiKey, erpTestConfig, newToken, newVendor } from '../../support/erp';
import { FakeErpAgent } from '../../support/erp-agent';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { createNamespace } from '../../support/nodes';
import { temporalAddress, testLog } from '../../support/temporal';

// The ERP bridge's agent calls, breakers, deliveries and reconciles run in worker activities: their
// counters must reach Prometheus from the process that ran them. In one process (API + worker) that
// is the API's /metrics; a worker-only process serves them on WORKER_METRICS_PORT.

let namespace: string;
let t: TestDatabase;
let agent: FakeErpAgent;
/** An agent whose ERP is down: every order call is a 503. */
let down: FakeErpAgent;
let connection: Connection;
let client: Client;
const nodes: RunningNode[] = [];

beforeAll(async () => {
  [namespace, t, agent, down] = await Promise.all([
    createNamespace('velox-test-erp-metrics'),
    createTestDatabase('erp_metrics'),
    new FakeErpAgent().start(),
    new FakeErpAgent().start(),
  ]);
  down.orderMode = 'down';
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, namespace });
});

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  if (connection) {
    const schedules = new ScheduleClient({ connection, namespace });
    for await (const s of schedules.list()) await schedules.getHandle(s.scheduleId).delete();
    for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
      await client.workflow.getHandle(wf.workflowId).terminate('test finished');
    }
    await connection.close();
  }
  await agent?.stop();
  await down?.stop();
  await t?.drop();
});

async function start(roles: string, extra: Record<string, string> = {}): Promise<RunningNode> {
  const node = await startNode(
    erpTestConfig({
      DATABASE_URL: t.url,
      DATABASE_POOL_SIZE: '4',
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: 'velox-erp-metrics',
      ERP_SCHEDULES_ENABLED: 'false',
      ERP_ORDER_BACKOFF_SECONDS: '0.1',
      PORT: '0',
      HOST: '127.0.0.1',
      ROLES: roles,
      ...extra,
    }),
    testLog,
  );
  nodes.push(node);
  return node;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function call(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, text: await res.text() };
}

async function registerAndOrder(
  api: string,
  to = agent,
  expected: Partial<DeliveryOutcome> = { status: 'completed', attempts: 1 },
) {
  const vendorId = newVendor();
  const reg = await call(api, '/api/agents/register', {
    method: 'POST',
    headers: { authorization: `Bearer ${AGENT_SECRET}` },
    body: { vendorId, agentUrl: to.url, authToken: newToken(), version: '1.0.0' },
  });
  expect(reg.status).toBe(201);
  const order = await call(api, '/api/admin/orders/test', {
    method: 'POST',
    headers: apiKey,
    body: { vendorId, order: { ref: `R-${vendorId}`, total: 3 } },
  });
  expect(order.status).toBe(202);
  const { jobId } = JSON.parse(order.text) as { jobId: string };
  const outcome = (await client.workflow.getHandle(erpOrderWorkflowId(jobId)).result()) as DeliveryOutcome;
  expect(outcome).toMatchObject(expected);
  return vendorId;
}

/** The value of one sample of a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = inner.split(',');
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('one process (API + worker): a delivery through the agent is counted per vendor on the API /metrics', async () => {
  const node = await start('api,worker');
  expect(node.metricsUrl).toBeNull();
  const vendor = await registerAndOrder(node.url!);

  const { status, text } = await call(node.url!, '/metrics');
  expect(status).toBe(200);
  const v = { vendor };
  expect(sample(text, 'velox_erp_agent_calls_total', { ...v, api_type: 'orders', outcome: 'ok' })).toBe(1);
  expect(
    sample(text, 'velox_erp_agent_call_duration_seconds_count', { ...v, api_type: 'orders', outcome: 'ok' }),
  ).toBe(1);
  expect(sample(text, 'velox_erp_order_delivery_attempts_total', { ...v, outcome: 'delivered' })).toBe(1);
  expect(sample(text, 'velox_erp_order_deliveries_total', { ...v, outcome: 'completed' })).toBe(1);
  expect(sample(text, 'velox_erp_order_attempts_per_job_sum', { ...v, outcome: 'completed' })).toBe(1);
  expect(sample(text, 'velox_erp_breaker_state', { ...v, api_type: 'orders' })).toBe(0);
  // The API's own counters are on the same registry.
  expect(sample(text, 'velox_erp_order_jobs_total', { event: 'created' })).toBeGreaterThanOrEqual(1);

  // An ERP that is down: five failed calls, the breaker opens, the job is dead-lettered.
  const failing = await registerAndOrder(node.url!, down, { status: 'dead_lettered', attempts: 5 });
  const after = (await call(node.url!, '/metrics')).text;
  const f = { vendor: failing };
  expect(
    sample(after, 'velox_erp_agent_calls_total', { ...f, api_type: 'orders', outcome: 'unavailable' }),
  ).toBe(5);
  expect(sample(after, 'velox_erp_order_delivery_attempts_total', { ...f, outcome: 'failed' })).toBe(5);
  expect(sample(after, 'velox_erp_order_deliveries_total', { ...f, outcome: 'dead_lettered' })).toBe(1);
  expect(sample(after, 'velox_erp_order_attempts_per_job_sum', { ...f, outcome: 'dead_lettered' })).toBe(5);
  expect(sample(after, 'velox_erp_breaker_state', { ...f, api_type: 'orders' })).toBe(2);
  expect(
    sample(after, 'velox_erp_breaker_transitions_total', { ...f, api_type: 'orders', transition: 'open' }),
  ).toBe(1);
  // The first vendor's counters are its own.
  expect(sample(after, 'velox_erp_agent_calls_total', { ...v, api_type: 'orders', outcome: 'ok' })).toBe(1);
  await node.stop();
  nodes.splice(nodes.indexOf(node), 1);
});

test('a worker-only process serves /metrics and /healthz on WORKER_METRICS_PORT with the counters of its activities', async () => {
  const port = await freePort();
  const worker = await start('worker', { WORKER_METRICS_PORT: String(port) });
  expect(worker.url).toBeNull();
  expect(worker.metricsUrl).toBe(`http://127.0.0.1:${port}`);
  const api = await start('api', { WORKER_METRICS_PORT: String(port) });
  const vendor = await registerAndOrder(api.url!);

  const reconcile = await call(api.url!, '/api/admin/reconciliation/trigger', {
    method: 'POST',
    headers: apiKey,
    body: { vendorId: vendor },
  });
  expect(reconcile.status).toBe(202);
  await client.workflow.getHandle(erpReconcileWorkflowId(vendor)).result();

  const scraped = await call(worker.metricsUrl!, '/metrics');
  expect(scraped.status).toBe(200);
  const text = scraped.text;
  const v = { vendor };
  expect(sample(text, 'velox_erp_agent_calls_total', { ...v, api_type: 'orders', outcome: 'ok' })).toBe(1);
  expect(sample(text, 'velox_erp_order_deliveries_total', { ...v, outcome: 'completed' })).toBe(1);
  expect(sample(text, 'velox_erp_agent_calls_total', { ...v, api_type: 'items', outcome: 'ok' })).toBe(1);
  expect(
    sample(text, 'velox_erp_reconcile_checksum_calls_total', { ...v, type: 'stock', result: 'equal' }),
  ).toBe(1);
  expect(sample(text, 'velox_erp_reconcile_runs_total', { ...v, result: 'in_sync' })).toBe(1);
  expect(text).toContain('velox_process_');

  // The API process ran no activity: it has none of the vendor's agent calls.
  const apiText = (await call(api.url!, '/metrics')).text;
  expect(
    sample(apiText, 'velox_erp_agent_calls_total', { ...v, api_type: 'orders', outcome: 'ok' }),
  ).toBeUndefined();

  expect(await call(worker.metricsUrl!, '/healthz')).toMatchObject({ status: 200 });
  expect((await call(worker.metricsUrl!, '/api/admin/agents')).status).toBe(404);
});
