import type { Client, Connection } from '@temporalio/client';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import pg from 'pg';
import type { NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { connectTemporal } from '../../../infra/temporal/client';
import { connectWorker, createNodeWorker } from '../../../app/worker';
import { taskQueuePollerCheck, workerStateCheck } from '../../../infra/temporal/worker-health';
import { createTestApp, testConfig, type TestApp } from '../../support/app';
import { serverUrl } from '../../support/db';
import { eventually } from '../../support/nodes';
import {
  bundleWorkflows,
  temporalAddress,
  temporalNamespace,
  testLog,
  uniqueName,
} from '../../support/temporal';

// /healthz reports the worker: in a process of the worker role by the worker's own state, in an
// API-only process by whether some worker polls the node's task queue (asked of Temporal, cached).

let bundle: WorkflowBundleWithSourceMap;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
const apps: TestApp[] = [];

const namespace = temporalNamespace();
const configFor = (taskQueue: string) =>
  testConfig({
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
  });

beforeAll(async () => {
  const config = configFor('unused');
  [bundle, nativeConnection, { connection, client }] = await Promise.all([
    bundleWorkflows(),
    connectWorker(config),
    connectTemporal(config),
  ]);
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await nativeConnection?.close();
  await connection?.close();
});

async function nodeWorker(app: TestApp, taskQueue: string): Promise<Worker> {
  return createNodeWorker({
    config: configFor(taskQueue),
    db: app.t.db,
    log: testLog,
    connection: nativeConnection,
    workflowBundle: bundle,
  });
}

async function appWith(
  checkWorker: () => Promise<void>,
  more: Parameters<typeof createTestApp>[1] = {},
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const app = await createTestApp(overrides, { checkWorker, ...more });
  apps.push(app);
  return app;
}

const healthz = async (app: TestApp) => {
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  return { status: res.statusCode, body: res.json<{ status: string; checks: Record<string, string> }>() };
};

test('worker role: 503 naming the worker until it runs, 200 while it runs, 503 once it has stopped', async () => {
  const taskQueue = uniqueName('healthz-worker');
  // The worker runs on the app's database, so the app comes first and its check finds the worker here.
  const the: { worker?: Worker } = {};
  const app = await appWith(() => workerStateCheck(the.worker!, taskQueue)());
  const worker = await nodeWorker(app, taskQueue);
  the.worker = worker;

  const before = await healthz(app);
  expect(before.status).toBe(503);
  expect(before.body).toEqual({
    status: 'degraded',
    checks: {
      postgres: 'ok',
      temporal: 'ok',
      worker: `the worker of task queue ${taskQueue} is INITIALIZED`,
    },
  });

  const running = worker.run();
  const up = await eventually(
    '/healthz to see the worker running',
    () => healthz(app),
    (h) => h.status === 200,
  );
  expect(up.body).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' } });

  worker.shutdown();
  await running;
  const down = await healthz(app);
  expect(down.status).toBe(503);
  expect(down.body.checks.worker).toBe(`the worker of task queue ${taskQueue} is STOPPED`);
  expect(down.body.checks.postgres).toBe('ok');
});

test('API only: 503 while no worker polls the task queue, 200 once one does', async () => {
  const taskQueue = uniqueName('healthz-pollers');
  const app = await appWith(taskQueuePollerCheck(client, { namespace, taskQueue, cacheMs: 0 }));

  const alone = await healthz(app);
  expect(alone.status).toBe(503);
  expect(alone.body.checks.worker).toBe(`no worker polls task queue ${taskQueue} in namespace ${namespace}`);

  const worker = await nodeWorker(app, taskQueue);
  const running = worker.run();
  try {
    await eventually(
      '/healthz to see the worker',
      () => healthz(app),
      (h) => h.status === 200,
    );
    expect((await healthz(app)).body.checks.worker).toBe('ok');
  } finally {
    worker.shutdown();
    await running;
  }
});

test('API only: a flood of /healthz asks Temporal once per cache window', async () => {
  const taskQueue = uniqueName('healthz-flood');
  let calls = 0;
  // The real service, counted.
  const counted = {
    workflowService: {
      describeTaskQueue: (request: Parameters<Client['workflowService']['describeTaskQueue']>[0]) => {
        calls += 1;
        return client.workflowService.describeTaskQueue(request);
      },
    },
  } as unknown as Pick<Client, 'workflowService'>;
  const app = await appWith(taskQueuePollerCheck(counted, { namespace, taskQueue, cacheMs: 60_000 }));

  const answers = await Promise.all(Array.from({ length: 200 }, () => healthz(app)));

  expect(new Set(answers.map((a) => a.status))).toEqual(new Set([503]));
  expect(calls).toBe(1);
});

/** The database liveness probe (`SELECT 1`), counted as it goes through the real pool. */
function countPings(): { plugin: KyselyPlugin; count: () => number } {
  let pings = 0;
  const isPing = (node: RootOperationNode) =>
    node.kind === 'RawNode' && node.sqlFragments.join('').trim() === 'SELECT 1';
  return {
    plugin: {
      transformQuery: ({ node }) => {
        if (isPing(node)) pings += 1;
        return node;
      },
      transformResult: ({ result }) => Promise.resolve(result),
    },
    count: () => pings,
  };
}

test('a flood of /healthz costs PostgreSQL and Temporal one probe per window', async () => {
  const pings = countPings();
  let temporalChecks = 0;
  const app = await appWith(
    () => Promise.resolve(),
    {
      withDb: (db) => db.withPlugin(pings.plugin),
      withTemporalCheck: (check) => () => {
        temporalChecks += 1;
        return check();
      },
    },
    // A window longer than the flood, so the count does not depend on the machine's speed.
    { HEALTHZ_PROBE_CACHE_MS: '60000' },
  );

  const answers = await Promise.all(Array.from({ length: 200 }, () => healthz(app)));
  for (let i = 0; i < 50; i++) answers.push(await healthz(app));

  expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
  expect(answers[0]!.body.checks).toEqual({ postgres: 'ok', temporal: 'ok', worker: 'ok' });
  expect(pings.count()).toBe(1);
  expect(temporalChecks).toBe(1);
});

test('a database that goes down is reported once the window has passed, and its recovery too', async () => {
  const app = await appWith(() => Promise.resolve());
  const windowMs = app.config.HEALTHZ_PROBE_CACHE_MS;
  expect(windowMs).toBe(1000);
  expect(await healthz(app)).toEqual({
    status: 200,
    body: { status: 'ok', checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' } },
  });

  // A real outage of the app's database: no new connections, and the open ones cut.
  const server = new pg.Client({ connectionString: serverUrl() });
  await server.connect();
  const allow = (on: boolean) => server.query(`ALTER DATABASE ${app.t.name} WITH ALLOW_CONNECTIONS ${on}`);
  try {
    await allow(false);
    await server.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
      app.t.name,
    ]);
    await new Promise((r) => setTimeout(r, windowMs));
    const down = await healthz(app);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('degraded');
    expect(down.body.checks.postgres).not.toBe('ok');
    expect(down.body.checks.temporal).toBe('ok');

    await allow(true);
    await new Promise((r) => setTimeout(r, windowMs));
    expect(
      await eventually(
        '/healthz to see PostgreSQL back',
        () => healthz(app),
        (h) => h.status === 200,
      ),
    ).toEqual({
      status: 200,
      body: { status: 'ok', checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' } },
    });
  } finally {
    await allow(true);
    await server.end();
  }
});
