import { Client, Connection, ScheduleClient } from '@temporalio/client';
import { loadConfig, type Config } from '../../infra/config';
import { startNode, type RunningNode } from '../../app/node';
import { orphanHealerScheduleId, relayWorkflowId } from '../../workflows/ids';
import { NamespaceInUseError } from '../../actors/namespace-guard';
import { relaySettings } from '../../actors/relay';
import { peerRelayWorkflow, statusQuery } from '../../workflows/relay';
import { ADMIN_SECRET } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { createNamespace, eventually } from '../support/nodes';
import { temporalAddress, testLog } from '../support/temporal';

// Two nodes pointed at one Temporal namespace by mistake: the second refuses to start, naming the
// first node's actors, and leaves them alone (not terminated, not signalled). A relay of the first
// node under its id from before ids carried the node id hands its cursor to the new one, and its
// schedule under the old id is deleted.

const TOKEN = 'peer-token-a-b-0123456789abcdef';
let namespace: string;
let connection: Connection;
let client: Client;
const databases: TestDatabase[] = [];
let nodeA: RunningNode | undefined;

async function configFor(nodeId: string, peerId: string, roles = 'api,worker'): Promise<Config> {
  const t = await createTestDatabase(`guard_${nodeId}`);
  databases.push(t);
  return loadConfig({
    NODE_ID: nodeId,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: t.url,
    DATABASE_POOL_SIZE: '4',
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: `velox-${nodeId}`,
    ADMIN_SECRET,
    // Nobody listens there: with an empty log the relay never has to reach it.
    PEERS: JSON.stringify([{ id: peerId, url: 'http://127.0.0.1:9', token: TOKEN }]),
    LOG_LEVEL: 'silent',
    ROLES: roles,
  });
}

beforeAll(async () => {
  namespace = await createNamespace('velox-test-guard');
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, namespace });
});

afterAll(async () => {
  await nodeA?.stop();
  if (connection) {
    const schedules = new ScheduleClient({ connection, namespace });
    for await (const s of schedules.list()) await schedules.getHandle(s.scheduleId).delete();
    for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
      await client.workflow.getHandle(wf.workflowId).terminate('test finished');
    }
    await connection.close();
  }
  for (const t of databases) await t.drop();
});

const signalsOf = async (workflowId: string) =>
  ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter(
    (e) => e.workflowExecutionSignaledEventAttributes,
  ).length;

test('the first node takes over its relay of old, with the cursor; a second node in its namespace refuses to start and touches nothing', async () => {
  const configA = await configFor('a', 'b');
  // A relay node A started before ids carried the node id, 42 events into its log.
  const legacy = await client.workflow.start(peerRelayWorkflow, {
    workflowId: 'relay:b',
    taskQueue: configA.TEMPORAL_TASK_QUEUE,
    args: [
      {
        peerId: 'b',
        settings: relaySettings(configA),
        cursor: 42,
        totals: { relayed: 42, deadLettered: 0, batches: 3 },
      },
    ],
    memo: { role: 'PeerRelay', peer: 'b', node: 'a' },
  });

  // And its orphan-healer schedule under the old id (paused: it must not fire here).
  await client.schedule.create({
    scheduleId: 'orphan-healer',
    spec: { intervals: [{ every: '1 hour' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'orphanHealerWorkflow',
      workflowId: 'orphan-healer',
      taskQueue: configA.TEMPORAL_TASK_QUEUE,
      args: [{ batchSize: 50, maxAgeDays: 7 }],
    },
    state: { paused: true },
    memo: { node: 'a' },
  });

  nodeA = await startNode(configA, testLog);

  const relayA = client.workflow.getHandle(relayWorkflowId('a', 'b'));
  const status = await relayA.query(statusQuery);
  expect(status).toMatchObject({ peerId: 'b', cursor: 42, totals: { relayed: 42, batches: 3 } });
  expect((await legacy.describe()).status.name).toBe('TERMINATED');
  await eventually(
    "node A's relay and schedules to be listed",
    async () => {
      const relays: string[] = [];
      for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
        relays.push(wf.workflowId);
      }
      const schedules: string[] = [];
      for await (const s of client.schedule.list()) schedules.push(s.scheduleId);
      return { relays, schedules };
    },
    (v) => v.relays.includes(relayA.workflowId) && v.schedules.includes(orphanHealerScheduleId('a')),
  );
  const signalsBefore = await signalsOf(relayA.workflowId);

  for (const roles of ['api,worker', 'api']) {
    const configB = await configFor('b', 'a', roles);
    const refused = await startNode(configB, testLog).then(
      async (node) => {
        await node.stop();
        throw new Error(`node b started (${roles}) in node a's namespace`);
      },
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(NamespaceInUseError);
    const message = (refused as Error).message;
    expect(message).toContain(`Temporal namespace "${namespace}" already holds actors of another node (a)`);
    expect(message).toContain(`workflow ${relayA.workflowId}`);
    expect(message).toContain('This node is NODE_ID=b');
    expect(message).toContain('set TEMPORAL_NAMESPACE');
  }

  // Node A's relay is still running, got no signal from B, and B made no schedule of its own.
  expect((await relayA.describe()).status.name).toBe('RUNNING');
  expect(await signalsOf(relayA.workflowId)).toBe(signalsBefore);
  const schedules: string[] = [];
  for await (const s of client.schedule.list()) schedules.push(s.scheduleId);
  expect(schedules.sort()).toEqual([
    'a:erp-agent-health',
    'a:erp-archive-reconciliation',
    'a:erp-dlq-alerts',
    'a:erp-drift-detection',
    'a:erp-expired-jobs',
    'a:erp-order-sweep',
    'a:erp-resolved-dlq',
    'a:health-snapshot',
    'a:orphan-healer',
    'a:oversell-detector',
    'a:projection-self-check',
    'a:reconcile-sweep',
  ]);
  expect((await relayA.query(statusQuery)).cursor).toBe(42);
});
