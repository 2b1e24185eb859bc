import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createNodeWorker } from '../../app/worker';
import { ensureSearchAttributes } from '../../infra/temporal/search-attributes';
import { createTestDatabase } from './db';
import { createErpTestApp, type ErpTestApp } from './erp';
import { bundleWorkflows, connectTestEnvironment, testLog, uniqueName } from './temporal';

/** The API with a Temporal client, and the node's worker on a task queue of the test file's own. */
export interface ErpStack {
  app: ErpTestApp;
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
  taskQueue: string;
  startWorker(): Promise<{ worker: Worker; running: Promise<void> }>;
  close(): Promise<void>;
}

export async function createErpStack(overrides: Record<string, string> = {}): Promise<ErpStack> {
  const [t, env, bundle] = await Promise.all([
    createTestDatabase('erp'),
    connectTestEnvironment(),
    bundleWorkflows(),
  ]);
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  const taskQueue = uniqueName('erp');
  const app = await createErpTestApp(
    { TEMPORAL_NAMESPACE: env.namespace ?? 'default', TEMPORAL_TASK_QUEUE: taskQueue, ...overrides },
    { temporal: env.client, db: t },
  );
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  const startWorker = async () => {
    const worker = await createNodeWorker({
      config: app.config,
      db: t.db,
      log: testLog,
      connection: env.nativeConnection,
      workflowBundle: bundle,
    });
    const w = { worker, running: worker.run() };
    workers.push(w);
    return w;
  };
  await startWorker();
  return {
    app,
    env,
    bundle,
    taskQueue,
    startWorker,
    async close() {
      for (const w of workers) {
        if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
        await w.running.catch(() => undefined);
      }
      await app.close();
      await env.teardown();
      await t.drop();
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
