import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { PROJECTION_TABLES } from '../../../infra/db/schema';
import type { SyncEvent } from '../../../domain/events/schemas';
import { relayWorkflowId } from '../../../actors/relay';
import { PeerIdKey } from '../../../workflows/search-keys';
import { DeviceSim } from '../../support/events';
import { createTestNetwork, type TestNode, eventually } from '../../support/nodes';
import { tableDigest, tableRows } from '../../support/projections';
import { recordHistory } from '../../support/temporal';

// Two real nodes (child processes: API + worker each), two databases, one Temporal dev server with a
// namespace per node. Relay settings are shrunk so outages play out in seconds.
const RELAY_ENV = {
  RELAY_POLL_INTERVAL_MS: '1000',
  RELAY_OPEN_MS: '1500',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '200',
  RELAY_HTTP_TIMEOUT_MS: '1000',
  RELAY_BATCH_SIZE: '100',
};

let a: TestNode;
let b: TestNode;
const storeId = randomUUID();
const device = { a: { id: '', token: '' }, b: { id: '', token: '' } };
let simA: DeviceSim;
let simB: DeviceSim;

interface PeerStatus {
  peer_id: string;
  cursor: number | null;
  lag: { events: number | null };
  circuit: { state: string; consecutive_failures: number | null; last_error: string | null };
  running: boolean;
  relayed_total: number | null;
  dead_letters_open: number;
}

async function statusOf(node: TestNode, peer: string): Promise<PeerStatus> {
  const res = await node.request<{ peers: PeerStatus[] }>('GET', '/sync/federation/status');
  return res.body.peers.find((p) => p.peer_id === peer)!;
}

function push(node: TestNode, events: SyncEvent[]) {
  const d = node === a ? device.a : device.b;
  return node.request<{ accepted: string[]; rejected: unknown[] }>(
    'POST',
    '/sync/push',
    { store_id: storeId, device_id: d.id, events },
    { authorization: `Bearer ${d.token}` },
  );
}

const countEvents = async (node: TestNode) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM events WHERE store_id = ${storeId}`.execute(node.db))
      .rows[0]!.n,
  );

async function projectionDigests(node: TestNode) {
  const out: Record<string, unknown> = {};
  for (const t of PROJECTION_TABLES) out[t] = await tableDigest(node.db, t);
  return out;
}

beforeAll(async () => {
  const net = await createTestNetwork(['a', 'b'], { env: RELAY_ENV });
  [a, b] = [net.a!, net.b!];
  await Promise.all([a.start(), b.start()]);
  for (const [key, node] of [
    ['a', a],
    ['b', b],
  ] as const) {
    await node.request('POST', '/stores', { id: storeId, name: 'Bodega La Esquina' });
    const res = await node.request<{ device_id: string; token: string }>(
      'POST',
      `/stores/${storeId}/devices`,
      { name: `POS ${key}` },
    );
    device[key] = { id: res.body.device_id, token: res.body.token };
  }
  simA = new DeviceSim(storeId, device.a.id);
  simB = new DeviceSim(storeId, device.b.id);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

test('events pushed to A appear in B, and the reverse, without echo', async () => {
  const product = randomUUID();
  const saleA = randomUUID();
  const resA = await push(a, [
    simA.event('ProductCreated', { product_id: product, name: 'Malta', price: 1.5 }),
    simA.event('StockReceived', { product_id: product, qty: 48 }),
    simA.event('SaleCreated', { sale_id: saleA, items: [{ product_id: product, qty: 6, unit_price: 1.5 }] }),
  ]);
  expect(resA.body.accepted).toHaveLength(3);
  await eventually(
    'the sale on B',
    () => b.db.selectFrom('sales').select(['id', 'total']).where('id', '=', saleA).executeTakeFirst(),
    (row) => row?.total === '9.00',
  );
  const stockB = await b.db
    .selectFrom('warehouse_stock')
    .select('stock')
    .where('product_id', '=', product)
    .executeTakeFirst();
  expect(stockB?.stock).toBe('42.000');
  const relayedToB = await b.db
    .selectFrom('events')
    .select(['source', 'source_peer', 'origin_node'])
    .where('store_id', '=', storeId)
    .execute();
  expect(
    relayedToB.every(
      (e) => e.source === 'system-federation' && e.source_peer === 'a' && e.origin_node === 'a',
    ),
  ).toBe(true);

  const debt = randomUUID();
  await push(b, [
    simB.event('DebtCreated', { debt_id: debt, amount: 20, notes: 'fiao de la señora Carmen' }),
  ]);
  await eventually(
    'the debt on A',
    () => a.db.selectFrom('debts').select('remaining_amount').where('id', '=', debt).executeTakeFirst(),
    (row) => row?.remaining_amount === '20.00',
  );
  // B never sends A's own events back: its relay to A carried only the debt. The debt can land on A
  // before B's relay step has returned and counted it: read the count once B's cursor is past it.
  const fromB = await eventually(
    "B's relay to A to finish its step",
    () => statusOf(b, 'a'),
    (s) => s.lag.events === 0,
  );
  expect(fromB.relayed_total).toBe(1);
  expect(await countEvents(a)).toBe(4);
  expect(await countEvents(b)).toBe(4);
  await eventually(
    'lag 0 both ways',
    async () => [await statusOf(a, 'b'), await statusOf(b, 'a')],
    (s) => s.every((p) => p.lag.events === 0 && p.circuit.state === 'CLOSED'),
  );
});

test('B stopped: A keeps selling, its circuit opens and events wait; B back: all relayed, CLOSED, lag 0', async () => {
  await b.stop();
  const product = randomUUID();
  const events = [
    simA.event('ProductCreated', { product_id: product, name: 'Pan canilla', price: 0.8 }),
    ...Array.from({ length: 9 }, () =>
      simA.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: product, qty: 1, unit_price: 0.8 }],
      }),
    ),
  ];
  for (const e of events) expect((await push(a, [e])).body.accepted).toHaveLength(1);

  const open = await eventually(
    'the circuit to open',
    () => statusOf(a, 'b'),
    (s) => s.circuit.state === 'OPEN',
  );
  expect(open.circuit.consecutive_failures).toBeGreaterThanOrEqual(5);
  expect(open.circuit.last_error).toMatch(/unreachable|ECONNREFUSED|failed/i);
  expect(open.lag.events).toBe(10);

  await b.start();
  const healed = await eventually(
    'the relay to recover',
    () => statusOf(a, 'b'),
    (s) => s.circuit.state === 'CLOSED' && s.lag.events === 0,
  );
  expect(healed.dead_letters_open).toBe(0);
  expect(await countEvents(b)).toBe(await countEvents(a));
  const sold = await b.db
    .selectFrom('sale_items')
    .select(sql<string>`sum(qty)`.as('qty'))
    .where('product_id', '=', product)
    .executeTakeFirst();
  expect(Number(sold?.qty)).toBe(9);
});

test('worker killed mid-relay, then restarted: everything arrives once', async () => {
  await eventually(
    'quiet relays',
    async () => [await statusOf(a, 'b'), await statusOf(b, 'a')],
    (s) => s.every((p) => p.lag.events === 0),
  );
  const product = randomUUID();
  const batches = Array.from({ length: 12 }, (_, i) =>
    Array.from({ length: 100 }, (_, j) =>
      i === 0 && j === 0
        ? simA.event('ProductCreated', { product_id: product, name: 'Refresco', price: 1 })
        : simA.event('SaleCreated', {
            sale_id: randomUUID(),
            items: [{ product_id: product, qty: 1, unit_price: 1 }],
          }),
    ),
  );
  // Hold the burst back, release it, and kill A's process as soon as B has some of it.
  expect((await a.request('POST', '/sync/federation/relays/b/pause')).status).toBe(200);
  const before = await countEvents(b);
  for (const batch of batches) expect((await push(a, batch)).body.accepted).toHaveLength(100);
  const total = await countEvents(a);
  expect((await a.request('POST', '/sync/federation/relays/b/resume')).status).toBe(200);
  await eventually(
    'part of the burst on B',
    () => countEvents(b),
    (n) => n > before,
    30_000,
  );
  await a.stop('SIGKILL');
  const partial = await countEvents(b);
  expect(partial).toBeLessThan(total);
  await a.start();
  await eventually(
    'B to catch up',
    () => countEvents(b),
    (n) => n === total,
    60_000,
  );
  const dupes = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (SELECT payload->>'sale_id' FROM events WHERE type = 'SaleCreated' GROUP BY 1 HAVING count(*) > 1) d`.execute(
    b.db,
  );
  expect(Number(dupes.rows[0]!.n)).toBe(0);
  expect(await projectionDigests(b)).toEqual(await projectionDigests(a));
});

test('PeerRelay history replays (recorded for the replay test)', async () => {
  const handle = a.client!.workflow.getHandle(relayWorkflowId('a', 'b'));
  const description = await handle.describe();
  expect(description.status.name).toBe('RUNNING');
  expect(description.typedSearchAttributes.get(PeerIdKey)).toBe('b');
  await recordHistory(handle, 'peer-relay');
});

// Last: it leaves a product that differs on purpose between the nodes (one event id, two payloads).
test('an event the peer refuses for good goes to dead letters without blocking the rest', async () => {
  // The same event id with different payloads on both sides: B will refuse A's copy (EVENT_ID_CONFLICT).
  const product = randomUUID();
  const clash = simA.event('ProductCreated', { product_id: product, name: 'Cafe', price: 3 });
  const onB = { ...clash, device_id: device.b.id, payload: { ...clash.payload, price: 4 } } as SyncEvent;
  // Keep B from delivering its copy to A first: pause B's relay to A.
  expect((await b.request('POST', '/sync/federation/relays/a/pause')).status).toBe(200);
  await b.request('POST', '/sync/push', { store_id: storeId, device_id: device.b.id, events: [onB] });

  const after = simA.event('StockReceived', { product_id: product, qty: 5 });
  expect((await push(a, [clash, after])).body.accepted).toHaveLength(2);
  await eventually(
    'the stock after the refused event to reach B',
    () =>
      b.db
        .selectFrom('stock_movements')
        .select('qty_delta')
        .where('product_id', '=', product)
        .executeTakeFirst(),
    (row) => row?.qty_delta === '5.000',
  );
  const letters = await a.request<{
    items: { id: string; event_id: string; error_code: string; attempts: number }[];
  }>('GET', '/admin/dead-letters?peer_id=b');
  expect(letters.body.items).toEqual([
    expect.objectContaining({ event_id: clash.event_id, error_code: 'EVENT_ID_CONFLICT' }),
  ]);
  expect((await statusOf(a, 'b')).dead_letters_open).toBe(1);

  // A retry still meets the conflict: it stays open, one more attempt.
  const id = letters.body.items[0]!.id;
  const retried = await a.request<{ status: string; attempts: number }>(
    'POST',
    `/admin/dead-letters/${id}/retry`,
  );
  expect(retried.body).toMatchObject({ status: 'open', attempts: 2 });
  const resolved = await a.request<{ status: string; resolution: string }>(
    'POST',
    `/admin/dead-letters/${id}/resolve`,
    {
      note: 'B keeps price 4; corrected with a ProductUpdated',
    },
  );
  expect(resolved.body).toMatchObject({
    status: 'resolved',
    resolution: expect.stringContaining('ProductUpdated'),
  });
  expect((await a.request<{ items: unknown[] }>('GET', '/admin/dead-letters?peer_id=b')).body.items).toEqual(
    [],
  );
  expect((await b.request('POST', '/sync/federation/relays/a/resume')).status).toBe(200);
});

test('a device of one store cannot change another store that reuses its ids, on either node after relay', async () => {
  // Store B lives on both nodes too, and reuses the product and debt ids of the attack below.
  const storeB = randomUUID();
  const productId = randomUUID();
  const debtId = randomUUID();
  for (const node of [a, b]) await node.request('POST', '/stores', { id: storeB, name: 'Bodega B' });
  const regB = await a.request<{ device_id: string; token: string }>('POST', `/stores/${storeB}/devices`, {
    name: 'POS B1',
  });
  const simStoreB = new DeviceSim(storeB, regB.body.device_id);
  const resB = await a.request<{ accepted: string[] }>(
    'POST',
    '/sync/push',
    {
      store_id: storeB,
      device_id: regB.body.device_id,
      events: [
        simStoreB.event('ProductCreated', { product_id: productId, name: 'Queso llanero', price: 5 }),
        simStoreB.event('DebtCreated', { debt_id: debtId, amount: 30 }),
      ],
    },
    { authorization: `Bearer ${regB.body.token}` },
  );
  expect(resB.body.accepted).toHaveLength(2);

  // A device of the test's store, on node B, pushes with B's ids into its own store.
  const attack = await push(b, [
    simB.event('ProductUpdated', { product_id: productId, price: 99 }),
    simB.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debtId, amount: 30 }),
  ]);
  expect(attack.body.accepted).toHaveLength(2);
  // And the same device, pushing to store B with its own device id: refused, nothing written.
  const crossPush = await b.request<{ error: { code: string } }>(
    'POST',
    '/sync/push',
    { store_id: storeB, device_id: device.b.id, events: [] },
    { authorization: `Bearer ${device.b.token}` },
  );
  expect(crossPush.status).toBe(403);

  for (const node of [a, b]) {
    await eventually(
      `store B's product and the attack's payment on node ${node.id}`,
      async () => ({
        b: await node.db
          .selectFrom('products')
          .select('price')
          .where('store_id', '=', storeB)
          .where('id', '=', productId)
          .executeTakeFirst(),
        mine: await node.db
          .selectFrom('debt_payments')
          .select('amount')
          .where('store_id', '=', storeId)
          .where('debt_id', '=', debtId)
          .executeTakeFirst(),
      }),
      (v) => v.b !== undefined && v.mine !== undefined,
    );
    const productB = await node.db
      .selectFrom('products')
      .selectAll()
      .where('store_id', '=', storeB)
      .where('id', '=', productId)
      .executeTakeFirstOrThrow();
    expect(productB).toMatchObject({ price: '5.00', name: 'Queso llanero' });
    const debtB = await node.db
      .selectFrom('debts')
      .select(['remaining_amount', 'status'])
      .where('store_id', '=', storeB)
      .where('id', '=', debtId)
      .executeTakeFirstOrThrow();
    expect(debtB).toEqual({ remaining_amount: '30.00', status: 'pending' });
    const mine = await node.db
      .selectFrom('products')
      .select(['price', 'name'])
      .where('store_id', '=', storeId)
      .where('id', '=', productId)
      .executeTakeFirstOrThrow();
    expect(mine).toEqual({ price: '99.00', name: null });
    const eventsOfB = await node.db
      .selectFrom('events')
      .select('event_id')
      .where('store_id', '=', storeB)
      .execute();
    expect(eventsOfB).toHaveLength(2);
  }

  // Reconcile both stores between the nodes: nothing to repair, and nothing crosses stores.
  const before = await Promise.all([a, b].map((node) => tableRows(node.db, 'products', [storeB])));
  for (const store of [storeB, storeId]) {
    const res = await a.request<{ peers?: unknown; error?: unknown }>(
      'POST',
      '/sync/federation/auto-reconcile',
      {
        store_id: store,
        wait: true,
      },
    );
    expect(res.status).toBe(200);
  }
  const after = await Promise.all([a, b].map((node) => tableRows(node.db, 'products', [storeB])));
  expect(after).toEqual(before);
  for (const node of [a, b]) {
    const debtB = await node.db
      .selectFrom('debts')
      .select('remaining_amount')
      .where('store_id', '=', storeB)
      .where('id', '=', debtId)
      .executeTakeFirstOrThrow();
    expect(debtB.remaining_amount).toBe('30.00');
  }
});
