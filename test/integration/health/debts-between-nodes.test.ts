import { randomUUID } from 'node:crypto';
import type { SyncEvent } from '../../../domain/events/schemas';
import type { FederationHealthReport } from '../../../domain/health/report';
import { DeviceSim } from '../../support/events';
import { createTestNetwork, eventually, type TestNode } from '../../support/nodes';

// "Debt D of customer C differs between nodes" (docs/health.md): two real nodes (API + worker child
// processes), a debt paid on one while its relay to the other is paused. The health report of each
// node names the debt, the customer, both amounts and both nodes, and the finding is gone once the
// relay resumes and they converge.
const RELAY_ENV = {
  RELAY_POLL_INTERVAL_MS: '1000',
  RELAY_OPEN_MS: '1500',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '200',
  RELAY_HTTP_TIMEOUT_MS: '1000',
};

let a: TestNode;
let b: TestNode;
const storeId = randomUUID();
let token = '';
let sim: DeviceSim;

function push(events: SyncEvent[]) {
  return a.request<{ accepted: string[] }>(
    'POST',
    '/sync/push',
    { store_id: storeId, device_id: sim.deviceId, events },
    { authorization: `Bearer ${token}` },
  );
}

const health = async (node: TestNode) =>
  (await node.request<FederationHealthReport>('GET', `/sync/federation/health?store_id=${storeId}`)).body;
const debtFindings = (r: FederationHealthReport) => r.findings.filter((f) => f.metric === 'debtDivergence');
const remainingOn = async (node: TestNode, debtId: string) =>
  (
    await node.db
      .selectFrom('debts')
      .select('remaining_amount')
      .where('store_id', '=', storeId)
      .where('id', '=', debtId)
      .executeTakeFirst()
  )?.remaining_amount;

beforeAll(async () => {
  const net = await createTestNetwork(['a', 'b'], { env: RELAY_ENV });
  [a, b] = [net.a!, net.b!];
  await Promise.all([a.start(), b.start()]);
  for (const node of [a, b])
    await node.request('POST', '/stores', { id: storeId, name: 'Bodega La Esquina' });
  const res = await a.request<{ device_id: string; token: string }>('POST', `/stores/${storeId}/devices`, {
    name: 'POS 1',
  });
  token = res.body.token;
  sim = new DeviceSim(storeId, res.body.device_id);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

test('a debt paid on one node while the relay is paused is named on both; the finding goes once they converge', async () => {
  const debtId = randomUUID();
  const otherDebt = randomUUID();
  const customerId = randomUUID();
  await push([
    sim.event('CustomerCreated', { customer_id: customerId, name: 'Doña Rosa' }),
    sim.event('DebtCreated', { debt_id: debtId, customer_id: customerId, amount: 100 }),
    sim.event('DebtCreated', { debt_id: otherDebt, customer_id: customerId, amount: 10 }),
  ]);
  await eventually(
    'both debts on b',
    () => remainingOn(b, otherDebt),
    (v) => v !== undefined,
  );
  await eventually(
    'debt on b',
    () => remainingOn(b, debtId),
    (v) => v !== undefined,
  );
  const inSync = await health(a);
  expect(debtFindings(inSync)).toEqual([]);
  expect(inSync.consistency.debtDivergence).toEqual({
    differing: 0,
    peers: [{ peer_id: 'b', differing: 0, bucketsLeftOut: 0 }],
  });

  const paused = await a.request('POST', '/sync/federation/relays/b/pause');
  expect(paused.status).toBe(200);
  const payment = sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debtId, amount: 30 });
  expect((await push([payment])).body.accepted).toEqual([payment.event_id]);
  expect(await remainingOn(a, debtId)).toBe('70.00');
  expect(await remainingOn(b, debtId)).toBe('100.00');

  const onA = await health(a);
  expect(debtFindings(onA)).toEqual([
    {
      level: 'warning',
      metric: 'debtDivergence',
      message: expect.stringMatching(
        new RegExp(
          `^debt ${debtId} of customer ${customerId} differs between nodes: remaining 70\\.00 of 100\\.00, 1 payment here \\(node a\\), remaining 100\\.00 of 100\\.00, 0 payments on node b`,
        ),
      ),
      ids: {
        store_id: storeId,
        customer_id: customerId,
        debt_id: debtId,
        node_id: 'a',
        peer_id: 'b',
        remaining_here: '70.00',
        remaining_there: '100.00',
        payments_here: 1,
        payments_there: 0,
      },
      runbook: 'docs/runbooks/federation-incidents.en.md#debt-divergence',
    },
  ]);
  expect(onA.consistency.debtDivergence.differing).toBe(1);
  // The other node says the same from its side; the debt that agrees is not named.
  const onB = await health(b);
  expect(debtFindings(onB).map((f) => f.ids)).toEqual([
    expect.objectContaining({
      debt_id: debtId,
      node_id: 'b',
      peer_id: 'a',
      remaining_here: '100.00',
      remaining_there: '70.00',
    }),
  ]);

  await a.request('POST', '/sync/federation/relays/b/resume');
  await eventually(
    'payment on b',
    () => remainingOn(b, debtId),
    (v) => v === '70.00',
  );
  const converged = await health(a);
  expect(debtFindings(converged)).toEqual([]);
  expect(converged.consistency.debtDivergence.differing).toBe(0);
  expect(debtFindings(await health(b))).toEqual([]);
}, 120_000);

test('a debt only one node has is named with the node that has it', async () => {
  const debtId = randomUUID();
  await a.request('POST', '/sync/federation/relays/b/pause');
  try {
    await push([sim.event('DebtCreated', { debt_id: debtId, amount: 12.5 })]);
    const ids = debtFindings(await health(b)).map((f) => [f.message, f.ids]);
    expect(ids).toEqual([
      [
        `debt ${debtId} of customer (none) is on node a (remaining 12.50 of 12.50, 0 payments) but not here (node b)`,
        expect.objectContaining({ debt_id: debtId, remaining_here: '', remaining_there: '12.50' }),
      ],
    ]);
  } finally {
    await a.request('POST', '/sync/federation/relays/b/resume');
  }
  await eventually(
    'debt on b',
    () => remainingOn(b, debtId),
    (v) => v === '12.50',
  );
  expect(debtFindings(await health(b))).toEqual([]);
}, 60_000);

test('another store that reuses a debt id has its own finding; the first store is not named', async () => {
  const other = randomUUID();
  for (const node of [a, b]) await node.request('POST', '/stores', { id: other, name: 'Bodega El Centro' });
  const dev = await a.request<{ device_id: string; token: string }>('POST', `/stores/${other}/devices`, {
    name: 'POS 1',
  });
  const otherSim = new DeviceSim(other, dev.body.device_id);
  const debtId = randomUUID();
  await push([sim.event('DebtCreated', { debt_id: debtId, amount: 40 })]);
  await eventually(
    'debt on b',
    () => remainingOn(b, debtId),
    (v) => v === '40.00',
  );
  await a.request('POST', '/sync/federation/relays/b/pause');
  try {
    const res = await a.request<{ accepted: string[] }>(
      'POST',
      '/sync/push',
      {
        store_id: other,
        device_id: otherSim.deviceId,
        events: [otherSim.event('DebtCreated', { debt_id: debtId, amount: 55 })],
      },
      { authorization: `Bearer ${dev.body.token}` },
    );
    expect(res.body.accepted).toHaveLength(1);
    // Same debt id, both nodes agree on the first store's debt: nothing named there.
    expect(debtFindings(await health(a))).toEqual([]);
    const otherReport = (
      await a.request<FederationHealthReport>('GET', `/sync/federation/health?store_id=${other}`)
    ).body;
    expect(debtFindings(otherReport).map((f) => f.ids)).toEqual([
      expect.objectContaining({
        store_id: other,
        debt_id: debtId,
        remaining_here: '55.00',
        remaining_there: '',
      }),
    ]);
  } finally {
    await a.request('POST', '/sync/federation/relays/b/resume');
  }
}, 60_000);

test('the peer route takes a peer or admin token only and validates its query', async () => {
  const url = `/sync/federation/debts?store_id=${storeId}&level=root`;
  expect((await a.request('GET', url, undefined, {})).status).toBe(401);
  expect((await a.request('GET', url, undefined, { authorization: `Bearer ${token}` })).status).toBe(403);
  expect((await a.request('GET', `/sync/federation/debts?store_id=${storeId}&level=debts`)).status).toBe(400);
  expect(
    (await a.request('GET', `/sync/federation/debts?store_id=${storeId}&level=debts&bucket=zz`)).status,
  ).toBe(400);
  const root = await a.request<{ count: number; digest: string }>('GET', url);
  expect(root.status).toBe(200);
  expect(root.body.count).toBeGreaterThanOrEqual(3);
  expect(root.body.digest).toMatch(/^[0-9a-f]{32}$/);
});
