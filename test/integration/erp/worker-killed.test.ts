import { erpOrderWorkflowId } from '../../../workflows/erp/ids';
import type { DeliveryOutcome } from '../../../domain/erp/delivery';
import { AGENT_SECRET, API_SECRET, newToken, newVendor } from '../../support/erp';
import { FakeErpAgent } from '../../support/erp-agent';
import { eventually } from '../../support/erp-worker';
import { createTestNetwork, type TestNode } from '../../support/nodes';

// A job's delivery survives its worker being killed (SIGKILL) while the agent holds the order: the
// node process (API + worker) dies before the agent's answer arrives, a new one starts, the attempt
// times out and the next one carries the same Idempotency-Key, so the ERP has the order once.

let node: TestNode;
let agent: FakeErpAgent;
beforeAll(async () => {
  agent = await new FakeErpAgent().start();
  const nodes = await createTestNetwork(['erpk'], {
    env: {
      AGENT_SECRET,
      API_SECRET,
      ERP_AGENT_TIMEOUT_MS: '2000',
      ERP_ORDER_BACKOFF_SECONDS: '0.25',
      ERP_SCHEDULES_ENABLED: 'false',
    },
  });
  node = nodes.erpk!;
  await node.start();
});
afterAll(async () => {
  await node?.close();
  await agent?.stop();
});

test('the worker killed mid-delivery: the job completes after a restart and the agent has the order once', async () => {
  const vendorId = newVendor();
  const reg = await node.request(
    'POST',
    '/api/agents/register',
    { vendorId, agentUrl: agent.url, authToken: newToken() },
    { authorization: `Bearer ${AGENT_SECRET}` },
  );
  expect(reg.status).toBe(201);

  let killed = false;
  agent.onCreateOrder = async () => {
    if (killed) return;
    killed = true;
    // The agent has the request; the node dies before it hears the answer.
    await node.stop('SIGKILL');
  };
  const started = await node.request<{ jobId: string }>(
    'POST',
    '/api/admin/orders/test',
    { vendorId },
    { 'x-api-key': API_SECRET },
  );
  expect(started.status).toBe(202);
  const { jobId } = started.body;

  await eventually(async () => (killed && !node.process ? true : undefined));
  await node.start();

  const outcome = (await node
    .client!.workflow.getHandle(erpOrderWorkflowId(jobId))
    .result()) as DeliveryOutcome;
  expect(outcome).toMatchObject({ status: 'completed', attempts: 2 });
  const calls = agent.calls('/sync/create-order');
  expect(calls).toHaveLength(2);
  expect(calls.map((c) => c.headers['idempotency-key'])).toEqual([jobId, jobId]);
  expect(agent.orders.size).toBe(1);
  expect(outcome.status === 'completed' && outcome.erpReference).toBe(agent.orders.get(jobId)!.erpReference);
  const job = await node.db
    .selectFrom('erp_sync_jobs')
    .selectAll()
    .where('id', '=', jobId)
    .executeTakeFirstOrThrow();
  expect(job).toMatchObject({
    status: 'completed',
    attempts: 2,
    erp_reference: agent.orders.get(jobId)!.erpReference,
  });
});
