import { ingestRecords } from '../../../infra/erp/ingest';
import { createMappingResolver } from '../../../infra/erp/mappings';
import { erpReconcileWorkflowId } from '../../../workflows/erp/ids';
import type { VendorReconcileSummary } from '../../../workflows/erp/vendor-reconcile';
import { apiKey, registerVendor } from '../../support/erp';
import { FakeErpAgent, item, stockOf } from '../../support/erp-agent';
import { createErpStack, type ErpStack } from '../../support/erp-worker';
import { recordHistory } from '../../support/temporal';

// REQ-9 and REQ-16 scenario 10 end to end: VendorReconcile against a fake agent holding its own
// records, checksum bisection, the ERP's record winning, one reconciliation_events row per run.

let stack: ErpStack;
let agent: FakeErpAgent;
beforeAll(async () => {
  [stack, agent] = await Promise.all([createErpStack(), new FakeErpAgent().start()]);
});
afterAll(async () => {
  await stack?.close();
  await agent?.stop();
});

const app = () => stack.app;
const sku = (i: number) => `SKU-${String(i).padStart(5, '0')}`;

async function seedBoth(vendorId: string, n: number) {
  const items = Array.from({ length: n }, (_, i) => item(sku(i), { price: i }));
  agent.setItems(items);
  const deps = {
    db: app().t.db,
    mappings: createMappingResolver(app().t.db, { max: 100, ttlMs: 60_000 }),
    chunkSize: 1000,
  };
  const r = await ingestRecords(deps, 'items', vendorId, items);
  expect(r.processed).toBe(n);
}

async function trigger(vendorId: string) {
  return app().inject({
    method: 'POST',
    url: '/api/admin/reconciliation/trigger',
    headers: apiKey,
    payload: { vendorId },
  });
}
const resultOf = (vendorId: string) =>
  stack.env.client.workflow
    .getHandle(erpReconcileWorkflowId(vendorId))
    .result() as Promise<VendorReconcileSummary>;

test('one drifted SKU among 10,000 is found in O(log n) checksum calls and the ERP value wins', async () => {
  const v = await registerVendor(app(), agent.url);
  await seedBoth(v.vendorId, 10_000);
  // The ERP changed one price without pushing it.
  agent.setItems([item(sku(6789), { price: 99.99, updatedAt: '2026-11-20T00:00:00Z' })]);
  agent.requests.length = 0;

  const started = await trigger(v.vendorId);
  expect(started.statusCode).toBe(202);
  const summary = await resultOf(v.vendorId);

  const checksumCalls = agent.calls('/sync/checksum').filter((c) => c.query.type === 'items').length;
  // log2(10,000 / 10) ≈ 10 levels, two halves compared per level, plus the root.
  expect(checksumCalls).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(10_000 / 10)) + 1);
  expect(checksumCalls).toBeGreaterThan(2);
  expect(summary.types.items).toMatchObject({
    checksumCalls,
    leaves: 1,
    differing: 1,
    missingHere: 0,
    fixed: 1,
    unresolved: [],
  });
  expect(agent.calls('/sync/records').filter((c) => c.query.type === 'items')).toHaveLength(1);
  const row = await app()
    .t.db.selectFrom('erp_items')
    .select('price')
    .where('vendor_id', '=', v.vendorId)
    .where('sku', '=', sku(6789))
    .executeTakeFirstOrThrow();
  expect(row.price).toBe('99.99');

  const events = await app().inject({
    method: 'GET',
    url: `/api/admin/reconciliation/events?vendorId=${v.vendorId}`,
    headers: apiKey,
  });
  expect(events.json()).toMatchObject({
    meta: { total: 1 },
    data: [{ eventType: 'drift_resolved', trigger: 'api', durationMs: expect.any(Number) }],
  });
  const drift = await app()
    .t.db.selectFrom('alerts')
    .select('type')
    .where('type', '=', 'reconciliation_drift')
    .where('subject', 'like', `%${v.vendorId}%`)
    .execute();
  expect(drift).toHaveLength(1);

  // In sync now: one checksum per type.
  agent.requests.length = 0;
  await trigger(v.vendorId);
  expect(await resultOf(v.vendorId)).toMatchObject({ inSync: true });
  expect(agent.calls('/sync/checksum')).toHaveLength(2);
  const metrics = await app().inject({
    method: 'GET',
    url: `/api/admin/metrics/reconciliation/${v.vendorId}`,
    headers: apiKey,
  });
  expect(metrics.json()).toMatchObject({ eventCount: 2, driftFrequency: 0.5, lastRun: expect.any(String) });
});

test('physical stock: the ERP wins, missing rows are added and rows the ERP lacks are removed', async () => {
  const v = await registerVendor(app(), agent.url);
  const push = (stock: unknown[]) =>
    app().inject({
      method: 'POST',
      url: '/api/sync/stock',
      headers: v.headers,
      payload: { vendorId: v.vendorId, stock },
    });
  await push([stockOf('P1', 'W1', 5), stockOf('P2', 'W1', 3), stockOf('GONE', 'W1', 1)]);
  agent.items.clear();
  agent.stock.clear();
  agent.setStock([stockOf('P1', 'W1', 9), stockOf('P2', 'W1', 3), stockOf('NEW', 'W2', 4)]);

  await trigger(v.vendorId);
  const summary = await resultOf(v.vendorId);
  expect(summary.types.stock).toMatchObject({ differing: 1, missingHere: 1, extraHere: 1, fixed: 3 });
  const rows = await app()
    .t.db.selectFrom('erp_stock')
    .select(['stock_key', 'quantity'])
    .where('vendor_id', '=', v.vendorId)
    .orderBy('stock_key')
    .execute();
  expect(rows).toEqual([
    { stock_key: 'NEW@W2', quantity: '4' },
    { stock_key: 'P1@W1', quantity: '9' },
    { stock_key: 'P2@W1', quantity: '3' },
  ]);
  await recordHistory(
    stack.env.client.workflow.getHandle(erpReconcileWorkflowId(v.vendorId)),
    'vendor-reconcile',
  );
});

test('one reconcile per vendor at a time: a second trigger while one runs is 409 LOCK_HELD', async () => {
  const v = await registerVendor(app(), agent.url);
  agent.items.clear();
  agent.stock.clear();
  agent.checksumDelayMs = 1500;
  try {
    expect((await trigger(v.vendorId)).statusCode).toBe(202);
    const second = await trigger(v.vendorId);
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ error: { code: 'LOCK_HELD' } });
    await resultOf(v.vendorId);
  } finally {
    agent.checksumDelayMs = 0;
  }
  expect((await trigger('no-such-vendor')).statusCode).toBe(404);
});
