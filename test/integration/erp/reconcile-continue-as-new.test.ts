import { ingestRecords } from '../../../infra/erp/ingest';
import { createMappingResolver } from '../../../infra/erp/mappings';
import { erpReconcileWorkflowId } from '../../../workflows/erp/ids';
import {
  vendorReconcileStartOptions,
  vendorReconcileWorkflow,
  type VendorReconcileInput,
  type VendorReconcileSummary,
} from '../../../workflows/erp/vendor-reconcile';
import { ErpVendorIdKey } from '../../../workflows/search-keys';
import { apiKey, registerVendor } from '../../support/erp';
import { FakeErpAgent, item } from '../../support/erp-agent';
import { createErpStack, type ErpStack } from '../../support/erp-worker';
import { recordHistory } from '../../support/temporal';

// VendorReconcile continues as new: a drift whose walk takes more steps than one run may hold
// (Temporal's history limit; here a small step limit given as input) is finished by later runs of
// the same workflow id, with one reconciliation_events row and the summary of a single run. The
// trigger's X-Correlation-ID reaches the agent, and a leaf of many unresolved records is capped in
// the activity's own result.

let stack: ErpStack;
let agent: FakeErpAgent;
beforeAll(async () => {
  [stack, agent] = await Promise.all([createErpStack(), new FakeErpAgent().start()]);
});
afterAll(async () => {
  await stack?.close();
  await agent?.stop();
});
beforeEach(() => {
  agent.items.clear();
  agent.stock.clear();
  agent.requests.length = 0;
});

const app = () => stack.app;
const sku = (i: number) => `SKU-${String(i).padStart(5, '0')}`;
const N = 500;

async function seedLocal(vendorId: string) {
  const items = Array.from({ length: N }, (_, i) => item(sku(i), { price: i }));
  const deps = {
    db: app().t.db,
    mappings: createMappingResolver(app().t.db, { max: 100, ttlMs: 60_000 }),
    chunkSize: 1000,
  };
  expect((await ingestRecords(deps, 'items', vendorId, items)).processed).toBe(N);
}

/** The ERP holds the node's items, with every 50th price changed (10 drifted leaves). */
function driftedErp() {
  agent.setItems(
    Array.from({ length: N }, (_, i) =>
      item(sku(i), i % 50 === 7 ? { price: 1000 + i, updatedAt: '2026-11-20T00:00:00Z' } : { price: i }),
    ),
  );
}

async function run(vendorId: string, extra: Partial<VendorReconcileInput> = {}) {
  const handle = await stack.env.client.workflow.start(vendorReconcileWorkflow, {
    ...vendorReconcileStartOptions(vendorId, 'api'),
    workflowIdConflictPolicy: 'FAIL',
    taskQueue: stack.taskQueue,
    args: [{ vendorId, trigger: 'api', leafSize: 10, agentTimeoutMs: 5000, ...extra }],
  });
  return handle;
}

test('a drift that crosses the step limit is finished by continue-as-new runs: one row, the same summary as one run', async () => {
  const [a, b] = [await registerVendor(app(), agent.url), await registerVendor(app(), agent.url)];
  await seedLocal(a.vendorId);
  await seedLocal(b.vendorId);
  driftedErp();

  const single = (await (await run(a.vendorId)).result()) as VendorReconcileSummary;
  expect(single.runs).toBe(1);
  expect(single.types.items).toMatchObject({ differing: 10, fixed: 10, leaves: 10, unresolvedCount: 0 });
  const stepsOfOneRun = single.types.items!.checksumCalls + single.types.items!.leaves;
  expect(stepsOfOneRun).toBeGreaterThan(40);

  const handle = await run(b.vendorId, { continueAsNewAfterSteps: 8 });
  // While the chain runs (whichever of its runs), the id is still the lock.
  const locked = await app().inject({
    method: 'POST',
    url: '/api/admin/reconciliation/trigger',
    headers: apiKey,
    payload: { vendorId: b.vendorId },
  });
  expect(locked.statusCode).toBe(409);
  expect(locked.json()).toMatchObject({ error: { code: 'LOCK_HELD' } });
  const chained = (await handle.result()) as VendorReconcileSummary;

  expect(chained.runs).toBeGreaterThanOrEqual(Math.floor(stepsOfOneRun / 8));
  expect(chained.types).toEqual(single.types);
  expect(chained.inSync).toBe(false);
  const latest = await stack.env.client.workflow.getHandle(erpReconcileWorkflowId(b.vendorId)).describe();
  expect(latest.runId).not.toBe(handle.firstExecutionRunId);
  // The vendor's search attribute follows the runs (the Temporal UI finds the last one by vendor).
  expect(latest.typedSearchAttributes.get(ErpVendorIdKey)).toBe(b.vendorId);

  const rows = await app()
    .t.db.selectFrom('erp_reconciliation_events')
    .selectAll()
    .where('vendor_id', '=', b.vendorId)
    .execute();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ event_type: 'drift_resolved', trigger: 'api' });
  expect(rows[0]!.summary).toEqual(JSON.parse(JSON.stringify(single.types)));
  const fixed = await app()
    .t.db.selectFrom('erp_items')
    .select('price')
    .where('vendor_id', '=', b.vendorId)
    .where('sku', '=', sku(457))
    .executeTakeFirstOrThrow();
  expect(fixed.price).toBe('1457');

  await recordHistory(
    stack.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
    'vendor-reconcile-continue-as-new',
  );
  await recordHistory(
    stack.env.client.workflow.getHandle(handle.workflowId, latest.runId),
    'vendor-reconcile-carried',
  );
});

test("the trigger's X-Correlation-ID is on every agent call of the reconcile", async () => {
  const v = await registerVendor(app(), agent.url);
  const res = await app().inject({
    method: 'POST',
    url: '/api/admin/reconciliation/trigger',
    headers: { ...apiKey, 'x-correlation-id': `corr-${v.vendorId}` },
    payload: { vendorId: v.vendorId },
  });
  expect(res.statusCode).toBe(202);
  await stack.env.client.workflow.getHandle(erpReconcileWorkflowId(v.vendorId)).result();
  const calls = agent.calls('/sync/checksum');
  expect(calls).toHaveLength(2);
  for (const c of calls) expect(c.headers['x-correlation-id']).toBe(`corr-${v.vendorId}`);
});

test('a leaf of hundreds of unmapped records: the activity returns a capped list and the whole count', async () => {
  const v = await registerVendor(app(), agent.url);
  // The node has none of them: the whole key space is one leaf, repaired by one activity.
  agent.setItems(Array.from({ length: 300 }, (_, i) => item(sku(i), { unit: 'NOPE' })));
  const summary = (await (await run(v.vendorId, { types: ['items'] })).result()) as VendorReconcileSummary;
  expect(summary.types.items).toMatchObject({ leaves: 1, missingHere: 300, unresolvedCount: 300 });
  expect(summary.types.items!.unresolved).toHaveLength(100);
  const history = await stack.env.client.workflow
    .getHandle(erpReconcileWorkflowId(v.vendorId))
    .fetchHistory();
  // What the repair activity itself returned (not only what the workflow kept of it).
  const results = history
    .events!.map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
    .filter((d): d is Uint8Array => d instanceof Uint8Array)
    .map(
      (d) =>
        JSON.parse(Buffer.from(d).toString('utf8')) as { unresolved?: unknown[]; unresolvedCount?: number },
    );
  const result = results.find((r) => r.unresolvedCount !== undefined)!;
  expect(result.unresolvedCount).toBe(300);
  expect(result.unresolved).toHaveLength(100);
});
