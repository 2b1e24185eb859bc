import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows, HISTORIES_DIR } from '../support/temporal';

// Every history recorded by the integration tests (test/histories/*.json) must replay against the
// current workflow code. A failure here means a change would break workflows already running in
// production: make it replay-safe (patched(), a new workflow type) instead of re-recording.

function recordedHistories() {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(`${HISTORIES_DIR}/${file}`, 'utf8'))),
    }));
}

async function replayAll(workflowBundle: WorkflowBundleWithSourceMap) {
  const outcomes: { workflowId: string; error?: Error }[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle, replayName: 'recorded' },
    recordedHistories(),
  )) {
    outcomes.push({ workflowId: result.workflowId, error: result.error });
  }
  return outcomes;
}

test('every recorded history replays against the current workflows', async () => {
  const histories = recordedHistories();
  expect(histories.map((h) => h.workflowId)).toContain('orphan-healer');
  expect(histories.map((h) => h.workflowId)).toEqual(
    expect.arrayContaining([
      'store-reconcile',
      'store-reconcile-worker-killed',
      'reconcile-sweep',
      'peer-relay',
      'peer-relay-continue-as-new',
      'store-reconcile-continue-as-new',
      'reconcile-sweep-continue-as-new',
      'escrow-grant',
      'fiscal-range-exhausted',
      'fiscal-range-expired',
      'erp-order-delivery',
      'erp-order-sweep',
      'vendor-reconcile',
      'vendor-reconcile-continue-as-new',
      'vendor-reconcile-carried',
    ]),
  );

  const outcomes = await replayAll(await bundleWorkflows());

  expect(outcomes.map((o) => o.workflowId)).toEqual(histories.map((h) => h.workflowId));
  for (const o of outcomes) {
    if (o.error) throw new Error(`${o.workflowId} no longer replays: ${o.error.message}`);
  }
});

test('a change that is not replay-safe is caught', async () => {
  const changed = await bundleWorkflows(require.resolve('./fixtures/nondeterministic-workflows'));

  const outcomes = await replayAll(changed);

  const healer = outcomes.find((o) => o.workflowId === 'orphan-healer');
  expect(healer?.error).toBeInstanceOf(DeterminismViolationError);
});
