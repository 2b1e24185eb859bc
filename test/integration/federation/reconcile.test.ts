import { randomUUID } from 'node:crypto';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { sql } from 'kysely';
import pino from 'pino';
import type { Db } from '../../../infra/db';
import { PROJECTION_TABLES } from '../../../infra/db/schema';
import { ingestEvents } from '../../../infra/eventlog/ingest';
import { syncEventSchema, type SyncEvent } from '../../../domain/events/schemas';
import { ENTITIES, type ReconcileResult } from '../../../domain/reconcile/digest-walk';
import { reconcileSweepScheduleId, reconcileWorkflowId } from '../../../workflows/ids';
import { reconcileSweepWorkflow, type ReconcileSweepResult } from '../../../workflows/reconcile-sweep';
import {
  progressQuery,
  reconcileStartOptions,
  storeReconcileWorkflow,
} from '../../../workflows/store-reconcile';
import { DeviceSim, worstCausalOrder } from '../../support/events';
import { createTestNetwork, type TestNode, eventually } from '../../support/nodes';
import { recordHistory } from '../../support/temporal';

// StoreReconcile between two real nodes (child processes: API + worker each, own database, own
// Temporal namespace). Gaps are made by writing straight into one node's database as events that
// came from the other node — as if the other had since lost them (restored from a backup): relay
// never sends an event back to the peer it came from, so only anti-entropy can repair such a gap.

const log = pino({ level: 'silent' });
let a: TestNode;
let b: TestNode;

type AutoReconcile = ReconcileResult & { store_id: string; peers: Record<string, ReconcileResult> };
type Counts = Partial<Record<(typeof ENTITIES)[number], number>>;

beforeAll(async () => {
  const net = await createTestNetwork(['a', 'b'], { env: { RELAY_POLL_INTERVAL_MS: '500' } });
  [a, b] = [net.a!, net.b!];
  await Promise.all([a.start(), b.start()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

async function newStore(): Promise<string> {
  const storeId = randomUUID();
  for (const node of [a, b]) {
    expect(
      (await node.request('POST', '/stores', { id: storeId, name: 'Bodega El Sol' })).status,
    ).toBeLessThan(300);
  }
  return storeId;
}

/** Writes events into `node`'s log as if `from` had relayed them (so relay will not send them back). */
async function ingestAsFrom(node: TestNode, from: TestNode, events: SyncEvent[]) {
  const parsed = events.map((e) => syncEventSchema.parse({ ...e, origin_node: from.id }));
  const r = await ingestEvents(
    node.db,
    parsed,
    { nodeId: node.id, source: 'system-federation', sourcePeer: from.id },
    log,
  );
  expect(r.accepted).toHaveLength(events.length);
}

const autoReconcile = (node: TestNode, body: Record<string, unknown>) =>
  node.request<AutoReconcile & { error?: { code: string; message: string } }>(
    'POST',
    '/sync/federation/auto-reconcile',
    body,
  );

const eventIds = async (db: Db, storeId: string) =>
  (
    await db
      .selectFrom('events')
      .select('event_id')
      .where('store_id', '=', storeId)
      .orderBy('event_id')
      .execute()
  ).map((r) => r.event_id);

/** Order-independent fingerprint of every projection table's rows of one store (as tableDigest, per store). */
async function projectionDigests(node: TestNode, storeId: string) {
  const out: Record<string, unknown> = {};
  for (const t of PROJECTION_TABLES) {
    const r = await sql<{ rows: string; md5: string | null }>`
      SELECT count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5
      FROM ${sql.table(t)} t WHERE store_id = ${storeId}`.execute(node.db);
    out[t] = r.rows[0];
  }
  return out;
}

/** The per-entity block of a result with the given missing counts, all replayed. */
function repaired(remoteMissing: Counts, localMissing: Counts) {
  return Object.fromEntries(
    ENTITIES.map((e) => [
      e,
      {
        remoteMissingCount: remoteMissing[e] ?? 0,
        localMissingCount: localMissing[e] ?? 0,
        replayedToRemote: remoteMissing[e] ?? 0,
        replayedToLocal: localMissing[e] ?? 0,
      },
    ]),
  );
}

/** A sale of one product: a SaleCreated. */
const sale = (sim: DeviceSim, product: string, qty = 1) =>
  sim.event('SaleCreated', {
    sale_id: randomUUID(),
    items: [{ product_id: product, qty, unit_price: 2.5 }],
    total: 2.5 * qty,
  });

test('a gap relay never delivered is found and repaired both ways; a second reconcile finds nothing', async () => {
  const storeId = await newStore();
  const simA = new DeviceSim(storeId);
  const simB = new DeviceSim(storeId);
  const product = randomUUID();
  const customer = randomUUID();
  const debt = randomUUID();
  const session = randomUUID();
  const sold = randomUUID();

  // Shared history, relayed the normal way.
  const shared = [
    simA.event('ProductCreated', { product_id: product, name: 'Harina PAN', price: 2.5 }),
    simA.event('StockReceived', { product_id: product, qty: 100 }),
  ];
  expect(
    (await a.request('POST', '/sync/push', { store_id: storeId, device_id: simA.deviceId, events: shared }))
      .status,
  ).toBe(200);
  await eventually(
    'relay of the shared history',
    () => eventIds(b.db, storeId),
    (ids) => ids.length === 2,
  );

  // Only on A: a bit of everything. Only on B: sales, a payment on A's debt, a customer edit, a stock delta.
  const onlyA = [
    simA.event('CustomerCreated', { customer_id: customer, name: 'Carmen Rojas' }),
    simA.event('ProductUpdated', { product_id: product, price: 2.75 }),
    simA.event('CashSessionOpened', { session_id: session, opening_amount: 50 }),
    simA.event('SaleCreated', {
      sale_id: sold,
      items: [{ product_id: product, qty: 2, unit_price: 2.5 }],
      session_id: session,
    }),
    sale(simA, product),
    sale(simA, product, 3),
    simA.event('SaleVoided', { sale_id: sold, reason: 'wrong customer' }),
    simA.event('DebtCreated', { debt_id: debt, amount: 40, customer_id: customer }),
    simA.event('DebtCreated', { debt_id: randomUUID(), amount: 10 }),
    simA.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debt, amount: 5 }),
    simA.event('DebtPaymentAdded', { payment_id: randomUUID(), debt_id: debt, amount: 5 }),
    simA.event('CashLedgerEntryCreated', {
      entry_id: randomUUID(),
      session_id: session,
      kind: 'out',
      amount: 7,
    }),
    simA.event('CashSessionClosed', { session_id: session, closing_amount: 43 }),
    simA.event('StockAdjusted', { product_id: product, qty_delta: -2, reason: 'broken bags' }),
    simA.event('StockReceived', { product_id: product, qty: 24 }),
  ];
  const onlyB = [
    sale(simB, product),
    sale(simB, product, 4),
    simB.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debt, amount: 10 }),
    simB.event('CustomerUpdated', { customer_id: customer, phone: '+58 412 555 0101' }),
    simB.event('StockDeltaApplied', { product_id: product, qty_delta: -1 }),
  ];
  await ingestAsFrom(a, b, onlyA);
  await ingestAsFrom(b, a, onlyB);
  // Give relay every chance to (wrongly) deliver them: it must not, or this test proves nothing.
  await new Promise((r) => setTimeout(r, 1500));
  expect(await eventIds(b.db, storeId)).toHaveLength(7);

  const res = await autoReconcile(a, { store_id: storeId });

  expect(res.status).toBe(200);
  const expected = repaired(
    { customers: 1, products: 1, sessions: 3, sales: 4, debts: 2, debtPayments: 2, stock: 2 },
    { sales: 2, debtPayments: 1, customers: 1, stock: 1 },
  );
  expect(res.body).toMatchObject({ store_id: storeId, ...expected, conflicts: [] });
  expect(res.body.peers.b).toMatchObject({ ...expected, conflicts: [] });
  expect(res.body.roundTrips).toBe(res.body.peers.b!.roundTrips);
  expect(res.body.roundTrips).toBeGreaterThan(3);
  expect(res.body.bytes).toBeGreaterThan(1000);

  expect(await eventIds(a.db, storeId)).toEqual(await eventIds(b.db, storeId));
  expect(await eventIds(a.db, storeId)).toHaveLength(22);
  expect(await projectionDigests(b, storeId)).toEqual(await projectionDigests(a, storeId));
  const debtRow = await b.db
    .selectFrom('debts')
    .select(['paid_amount', 'remaining_amount'])
    .where('id', '=', debt)
    .executeTakeFirst();
  expect(debtRow).toEqual({ paid_amount: '20.00', remaining_amount: '20.00' });

  // Repaired events count as coming from the peer: neither relay sends them back.
  const pulled = await a.db
    .selectFrom('events')
    .select(['source', 'source_peer'])
    .where('event_id', '=', onlyB[0]!.event_id)
    .executeTakeFirstOrThrow();
  expect(pulled).toEqual({ source: 'system-federation', source_peer: 'b' });

  const handle = a.client!.workflow.getHandle(reconcileWorkflowId('a', storeId, 'b'));
  const described = await handle.describe();
  expect(described.status.name).toBe('COMPLETED');
  expect(described.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
    expect.arrayContaining([
      ['StoreId', storeId],
      ['PeerId', 'b'],
    ]),
  );
  expect(described.memo).toMatchObject({ role: 'StoreReconcile', store: storeId, peer: 'b', trigger: 'api' });
  await recordHistory(handle, 'store-reconcile');

  // Nothing left: one request, a few hundred bytes — from either side.
  for (const node of [a, b]) {
    const again = await autoReconcile(node, { store_id: storeId });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ...repaired({}, {}), roundTrips: 1, conflicts: [] });
    expect(again.body.bytes).toBeLessThan(10_000);
  }
});

test('what a reconcile pulls is replayed in causal order, whatever order the peer committed it in', async () => {
  // On A only: two sessions, a sale in each and a void of each sale, committed in the worst order
  // (voids, sales, sessions; one ingest each) with ids that sort the same wrong way, since the pull
  // asks for them in id order.
  const storeId = await newStore();
  const { committed, causal } = worstCausalOrder(storeId);
  for (const e of committed) await ingestAsFrom(a, b, [e]);

  const res = await autoReconcile(b, { store_id: storeId, peer_id: a.id });
  expect(res.status).toBe(200);
  expect(res.body.sales.replayedToLocal).toBe(4);
  // B commits what it fetched in the order the fetch answered: the relay's causal order (by
  // priority, then A's commit order).
  const replayed = await b.db
    .selectFrom('events')
    .select('event_id')
    .where('store_id', '=', storeId)
    .orderBy('node_seq')
    .execute();
  expect(replayed.map((r) => r.event_id)).toEqual(causal.map((e) => e.event_id));
});

test('unknown store → 404, unknown peer → 404, no body → 400', async () => {
  const missing = await autoReconcile(a, { store_id: randomUUID() });
  expect(missing.status).toBe(404);
  expect(missing.body.error?.code).toBe('STORE_NOT_FOUND');
  const storeId = await newStore();
  const peer = await autoReconcile(a, { store_id: storeId, peer_id: 'nowhere' });
  expect(peer.status).toBe(404);
  expect(peer.body.error?.code).toBe('PEER_NOT_FOUND');
  const bad = await autoReconcile(a, { store: storeId });
  expect(bad.status).toBe(400);
  expect(bad.body.error?.message).toContain('body.store_id');
});

test('the same event id with different payloads is reported as a conflict and never overwritten', async () => {
  const storeId = await newStore();
  const sim = new DeviceSim(storeId);
  const original = sim.event('ProductCreated', { product_id: randomUUID(), name: 'Queso blanco', price: 6 });
  const altered = { ...original, payload: { ...original.payload, price: 7 } } as SyncEvent;
  await ingestAsFrom(a, b, [original]);
  await ingestAsFrom(b, a, [altered]);

  const res = await autoReconcile(a, { store_id: storeId });

  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ ...repaired({}, {}), conflicts: [original.event_id] });
  const price = async (node: TestNode) =>
    (
      await node.db
        .selectFrom('events')
        .select('payload')
        .where('event_id', '=', original.event_id)
        .executeTakeFirstOrThrow()
    ).payload.price;
  expect([await price(a), await price(b)]).toEqual([6, 7]);
});

test('two concurrent auto-reconciles: one runs, the other gets 409 LOCK_HELD; the sweep skips it too', async () => {
  const storeId = await newStore();
  const sim = new DeviceSim(storeId);
  const product = randomUUID();
  await ingestAsFrom(
    a,
    b,
    Array.from({ length: 80 }, () => sale(sim, product)),
  );
  const workflowId = reconcileWorkflowId('a', storeId, 'b');

  // One event per push step makes this reconcile take a few seconds.
  const first = autoReconcile(a, { store_id: storeId, chunk_size: 1 });
  await eventually(
    'the first reconcile to be running',
    () =>
      a
        .client!.workflow.getHandle(workflowId)
        .describe()
        .catch(() => null),
    (d: WorkflowExecutionDescription | null) => d?.status.name === 'RUNNING',
  );
  const second = await autoReconcile(a, { store_id: storeId, chunk_size: 1 });
  expect(second.status).toBe(409);
  expect(second.body.error).toMatchObject({
    code: 'LOCK_HELD',
    message: expect.stringContaining(workflowId),
  });

  // The scheduled sweep uses the same workflow ids: it skips the pair instead of running beside it.
  const schedule = a.client!.schedule.getHandle(reconcileSweepScheduleId('a'));
  const before = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  const action = await eventually(
    'the sweep to start',
    async () => (await schedule.describe()).info.recentActions,
    (actions) => actions.length > before,
  );
  const sweep = a.client!.workflow.getHandle(action[action.length - 1]!.action.workflow.workflowId);
  const sweepResult = (await sweep.result()) as ReconcileSweepResult;
  expect(sweepResult.skipped).toBeGreaterThanOrEqual(1);
  expect(sweepResult.failed).toBe(0);

  const done = await first;
  expect(done.status).toBe(200);
  expect(done.body.sales).toEqual({
    remoteMissingCount: 80,
    localMissingCount: 0,
    replayedToRemote: 80,
    replayedToLocal: 0,
  });
  expect(await eventIds(b.db, storeId)).toHaveLength(80);
  await recordHistory(sweep, 'reconcile-sweep');

  // The lock is released with the run: the next request starts a new one.
  const third = await autoReconcile(a, { store_id: storeId });
  expect(third.status).toBe(200);
  expect(third.body.roundTrips).toBe(1);
});

test('the worker killed (SIGKILL) mid-reconcile, then restarted: the reconcile completes, no duplicate rows', async () => {
  const storeId = await newStore();
  const simA = new DeviceSim(storeId);
  const simB = new DeviceSim(storeId);
  const product = randomUUID();
  await ingestAsFrom(
    b,
    a,
    Array.from({ length: 150 }, () => sale(simB, product)),
  );
  await ingestAsFrom(
    a,
    b,
    Array.from({ length: 150 }, () => sale(simA, product, 2)),
  );
  const workflowId = reconcileWorkflowId('a', storeId, 'b');

  const started = await autoReconcile(a, { store_id: storeId, chunk_size: 10, wait: false });
  expect(started.status).toBe(202);
  const handle = a.client!.workflow.getHandle(workflowId);
  await eventually(
    'some chunks pulled',
    () => handle.query(progressQuery).catch(() => null),
    (p) => (p?.pulled ?? 0) >= 40,
  );
  await a.stop('SIGKILL');
  await a.start();

  const result = await handle.result();

  expect(result.sales).toEqual({
    remoteMissingCount: 150,
    localMissingCount: 150,
    replayedToRemote: 150,
    replayedToLocal: 150,
  });
  for (const node of [a, b]) {
    expect(await eventIds(node.db, storeId)).toHaveLength(300);
    const rows = await sql<{ sales: string; movements: string; stock: string }>`
      SELECT (SELECT count(*) FROM sales WHERE store_id = ${storeId}) AS sales,
        (SELECT count(*) FROM stock_movements WHERE store_id = ${storeId}) AS movements,
        (SELECT sum(stock) FROM warehouse_stock WHERE store_id = ${storeId}) AS stock`.execute(node.db);
    expect(rows.rows[0]).toEqual({ sales: '300', movements: '300', stock: '-450.000' });
  }
  const digests = await Promise.all([a, b].map((node) => projectionDigests(node, storeId)));
  expect(digests[1]).toEqual(digests[0]);
  await recordHistory(handle, 'store-reconcile-worker-killed');
});

test('the continue-as-new knobs: a reconcile of several rounds and a sweep of several pairs continue as new and finish the job; their first runs are recorded', async () => {
  const storeId = await newStore();
  await newStore(); // the sweep below has at least two stores to pair with the peer
  const sim = new DeviceSim(storeId);
  const onlyA = Array.from({ length: 30 }, () =>
    sim.event('StockReceived', { product_id: randomUUID(), qty: 1 }),
  );
  await ingestAsFrom(a, b, onlyA);

  // A walk that stops at 10 differing ids needs three rounds; each round is a run of its own here.
  const handle = await a.client!.workflow.start(storeReconcileWorkflow, {
    ...reconcileStartOptions('a', storeId, 'b', 'api'),
    taskQueue: 'velox-a',
    args: [{ storeId, peerId: 'b', chunkSize: 5, walk: { maxIds: 10 }, continueAsNewAfterRounds: 1 }],
  });
  const result = await handle.result();
  expect(result.stock.replayedToRemote).toBe(30);
  expect(await eventIds(b.db, storeId)).toEqual(await eventIds(a.db, storeId));
  const first = a.client!.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
  expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
  await recordHistory(first, 'store-reconcile-continue-as-new');

  const sweep = await a.client!.workflow.start(reconcileSweepWorkflow, {
    workflowId: `sweep-continue-as-new-${randomUUID()}`,
    taskQueue: 'velox-a',
    args: [{ chunkSize: 100, concurrency: 1, nodeId: 'a', continueAsNewAfterPairs: 1 }],
  });
  const totals = await sweep.result();
  const stores = await a.db.selectFrom('stores').select('id').execute();
  expect(totals.pairs).toBe(stores.length);
  expect(totals.failed).toBe(0);
  const firstSweep = a.client!.workflow.getHandle(sweep.workflowId, sweep.firstExecutionRunId);
  expect((await firstSweep.describe()).status.name).toBe('CONTINUED_AS_NEW');
  await recordHistory(firstSweep, 'reconcile-sweep-continue-as-new');
});
