import { randomUUID } from 'node:crypto';
import { relayWorkflowId } from '../../../actors/relay';
import type { SyncEvent } from '../../../domain/events/schemas';
import {
  configureUpdate,
  peerRelayWorkflow,
  setPausedUpdate,
  statusQuery,
  type RelaySettings,
} from '../../../workflows/relay';
import { DeviceSim } from '../../support/events';
import { createTestNetwork, eventually, type TestNode } from '../../support/nodes';
import { recordHistory } from '../../support/temporal';

// The relay actor between two real nodes (child processes: API + worker each): the causal order it
// sends in, its admin updates (pause, resume, configure) and continue-as-new.
const RELAY_ENV = {
  RELAY_POLL_INTERVAL_MS: '1000',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '200',
  RELAY_HTTP_TIMEOUT_MS: '2000',
  RELAY_BATCH_SIZE: '100',
};

let a: TestNode;
let b: TestNode;
const storeId = randomUUID();
let sim: DeviceSim;
let token = '';

beforeAll(async () => {
  const net = await createTestNetwork(['a', 'b'], { env: RELAY_ENV });
  [a, b] = [net.a!, net.b!];
  await Promise.all([a.start(), b.start()]);
  for (const node of [a, b]) await node.request('POST', '/stores', { id: storeId, name: 'Bodega El Sol' });
  const res = await a.request<{ device_id: string; token: string }>('POST', `/stores/${storeId}/devices`, {
    name: 'POS 1',
  });
  token = res.body.token;
  sim = new DeviceSim(storeId, res.body.device_id);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

function push(events: SyncEvent[]) {
  return a.request<{ accepted: string[] }>(
    'POST',
    '/sync/push',
    { store_id: storeId, device_id: sim.deviceId, events },
    { authorization: `Bearer ${token}` },
  );
}

const control = <T = { peer_id: string; paused: boolean; changed: boolean; cursor: number }>(
  node: TestNode,
  peer: string,
  action: string,
  body?: unknown,
) => node.request<T>('POST', `/sync/federation/relays/${peer}/${action}`, body);

test("events committed on A out of causal order reach B's log in causal order", async () => {
  const paused = await control(a, 'b', 'pause');
  expect(paused).toMatchObject({ status: 200, body: { peer_id: 'b', paused: true, changed: true } });

  // Each its own commit on A, in the wrong order: the void, then the sale, then the session it
  // belongs to; a debt payment before its debt. While paused, they all wait for one batch.
  const sale = randomUUID();
  const product = randomUUID();
  const debt = randomUUID();
  const session = randomUUID();
  const wrongOrder = [
    sim.event('SaleVoided', { sale_id: sale, reason: 'cliente se arrepintió' }),
    sim.event('SaleCreated', {
      sale_id: sale,
      session_id: session,
      items: [{ product_id: product, qty: 2, unit_price: 1.25 }],
    }),
    sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debt, amount: 5 }),
    sim.event('DebtCreated', { debt_id: debt, amount: 10 }),
    sim.event('CashSessionOpened', { session_id: session, opening_amount: 20 }),
  ];
  for (const e of wrongOrder) expect((await push([e])).body.accepted).toEqual([e.event_id]);
  // The pause held: B has none of them.
  const onB = () =>
    b.db
      .selectFrom('events')
      .select(['type', 'node_seq'])
      .where('store_id', '=', storeId)
      .orderBy('node_seq')
      .execute();
  expect(await onB()).toEqual([]);

  expect((await control(a, 'b', 'resume')).body).toMatchObject({ paused: false, changed: true });
  const committed = await eventually('the five events on B', onB, (rows) => rows.length === 5);
  expect(committed.map((r) => r.type)).toEqual([
    'CashSessionOpened',
    'DebtCreated',
    'SaleCreated',
    'DebtPaymentRecorded',
    'SaleVoided',
  ]);
});

test('pause and resume are idempotent and answer what holds', async () => {
  const first = await control(a, 'b', 'pause');
  expect(first).toMatchObject({ status: 200, body: { paused: true, changed: true } });
  const again = await control(a, 'b', 'pause');
  expect(again).toMatchObject({ status: 200, body: { paused: true, changed: false } });
  expect(again.body.cursor).toBe(first.body.cursor);
  const status = await a.request<{ peers: { peer_id: string; paused: boolean }[] }>(
    'GET',
    '/sync/federation/status',
  );
  expect(status.body.peers.find((p) => p.peer_id === 'b')?.paused).toBe(true);
  expect((await control(a, 'b', 'resume')).body).toMatchObject({ paused: false, changed: true });
  expect((await control(a, 'b', 'resume')).body).toMatchObject({ paused: false, changed: false });
  expect((await control(a, 'nobody', 'pause')).status).toBe(404);
});

test('configure changes the settings it names, and refuses settings that cannot work with 400', async () => {
  type Answer = {
    peer_id: string;
    settings: Record<string, number>;
    error?: { code: string; message: string };
  };
  const ok = await control<Answer>(a, 'b', 'configure', { batch_size: 50, open_ms: 2500 });
  expect(ok.status).toBe(200);
  expect(ok.body.settings).toMatchObject({ batch_size: 50, open_ms: 2500, poll_interval_ms: 1000 });
  const handle = a.client!.workflow.getHandle(relayWorkflowId('a', 'b'));
  expect((await handle.query(statusQuery)).settings).toMatchObject({
    batchSize: 50,
    pollIntervalMs: 1000,
    circuit: { openMs: 2500 },
  });

  // Judged against the settings in force by the relay's validator: the maximum below the base.
  const below = await control<Answer>(a, 'b', 'configure', { backoff_max_ms: 50 });
  expect(below.status).toBe(400);
  expect(below.body.error).toMatchObject({ code: 'INVALID_RELAY_SETTINGS' });
  expect(below.body.error?.message).toMatch(/backoffMaxMs \(50\).*backoffBaseMs \(100\)/);
  expect((await control<Answer>(a, 'b', 'configure', { batch_size: 0 })).status).toBe(400);
  expect((await control<Answer>(a, 'b', 'configure', { batchsize: 10 })).status).toBe(400);
  expect((await control<Answer>(a, 'nobody', 'configure', { batch_size: 10 })).status).toBe(404);
  // Nothing refused was applied.
  expect((await handle.query(statusQuery)).settings).toMatchObject({ batchSize: 50, backoffMaxMs: 200 });
});

test('a relay continues as new with its state (test knob), and that history is recorded for replay', async () => {
  const client = a.client!;
  const product = sim.event('ProductCreated', { product_id: randomUUID(), name: 'Harina PAN', price: 1.1 });
  expect((await push([product])).body.accepted).toHaveLength(1);
  const settings: RelaySettings = (
    await client.workflow.getHandle(relayWorkflowId('a', 'b')).query(statusQuery)
  ).settings;
  // A second relay towards B on A's worker; B takes what it already has as duplicates.
  const workflowId = relayWorkflowId('a', `b-can-${randomUUID().slice(0, 8)}`);
  const handle = await client.workflow.start(peerRelayWorkflow, {
    workflowId,
    taskQueue: 'velox-a',
    args: [{ peerId: 'b', settings, continueAsNewAfter: 6 }],
  });
  const firstRun = handle.firstExecutionRunId;
  const configured = await handle.executeUpdate(configureUpdate, { args: [{ pollIntervalMs: 200 }] });
  expect(configured.pollIntervalMs).toBe(200);
  expect(await handle.executeUpdate(setPausedUpdate, { args: [true] })).toMatchObject({ paused: true });
  const resumed = await handle.executeUpdate(setPausedUpdate, { args: [false] });
  expect(resumed).toMatchObject({ paused: false, changed: true });

  const first = client.workflow.getHandle(workflowId, firstRun);
  await eventually(
    'the first run to continue as new',
    async () => (await first.describe()).status.name,
    (s) => s === 'CONTINUED_AS_NEW',
  );
  const before = await first.query(statusQuery);
  const latest = client.workflow.getHandle(workflowId);
  expect((await latest.describe()).runId).not.toBe(firstRun);
  const after = await latest.query(statusQuery);
  expect(after.settings.pollIntervalMs).toBe(200);
  expect(after.cursor).toBeGreaterThanOrEqual(before.cursor);
  expect(before.cursor).toBeGreaterThan(0);
  expect(after.totals.batches).toBeGreaterThanOrEqual(before.totals.batches);

  const history = await first.fetchHistory();
  const events = history.events!;
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(3);
  expect(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  await recordHistory(first, 'peer-relay-continue-as-new');
  await latest.terminate('test finished');
});

// Last: it ends A's relay to B.
test('a relay that is not running answers 409', async () => {
  await a.client!.workflow.getHandle(relayWorkflowId('a', 'b')).terminate('test: relay stopped');
  const paused = await control<{ error: { code: string } }>(a, 'b', 'pause');
  expect(paused).toMatchObject({ status: 409, body: { error: { code: 'RELAY_NOT_RUNNING' } } });
  const configured = await control<{ error: { code: string } }>(a, 'b', 'configure', { batch_size: 10 });
  expect(configured).toMatchObject({ status: 409, body: { error: { code: 'RELAY_NOT_RUNNING' } } });
});
