import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy, type Client, type Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../infra/config';
import { hashPayload } from '../../domain/events/hash';
import { connectTemporal } from '../../infra/temporal/client';
import { installTemporalRuntime } from '../../infra/temporal/logging';
import {
  healthMonitorScheduleId,
  orphanHealerScheduleId,
  oversellDetectorScheduleId,
  reconcileSweepScheduleId,
} from '../../workflows/ids';
import { ensureSchedules } from '../../actors/schedules';
import { connectWorker, createNodeWorker } from '../../app/worker';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/db';
import { DeviceSim } from '../support/events';
import {
  bundleWorkflows,
  temporalAddress,
  temporalNamespace,
  testLog,
  uniqueName,
} from '../support/temporal';

// The orphan-healer Schedule on a real server: created from config, it heals orphans with nobody
// calling anything, and re-running ensureSchedules (every boot does) updates it in place.

let tdb: TestDatabase;
let config: Config;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
// Test files share a namespace: a node id of its own keeps this file's schedules apart.
const nodeId = uniqueName('node-schedule-test');

beforeAll(async () => {
  installTemporalRuntime(testLog);
  config = loadConfig({
    NODE_ID: nodeId,
    DATABASE_URL: serverUrl(),
    ADMIN_SECRET: 'a-test-admin-secret-0123456789',
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: temporalNamespace(),
    TEMPORAL_TASK_QUEUE: uniqueName('orphan-schedule'),
    ORPHAN_HEALER_INTERVAL_SECONDS: '1',
  });
  const bundle = bundleWorkflows();
  [tdb, { connection, client }, nativeConnection] = await Promise.all([
    createTestDatabase('orphan_schedule'),
    connectTemporal(config),
    connectWorker(config),
  ]);
  worker = await createNodeWorker({
    config,
    db: tdb.db,
    log: testLog,
    connection: nativeConnection,
    workflowBundle: await bundle,
  });
  running = worker.run();
});

afterAll(async () => {
  for (const id of [
    orphanHealerScheduleId(nodeId),
    reconcileSweepScheduleId(nodeId),
    oversellDetectorScheduleId(nodeId),
    healthMonitorScheduleId(nodeId),
  ]) {
    await client?.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  }
  if (worker) {
    worker.shutdown();
    await running;
  }
  await nativeConnection?.close();
  await connection?.close();
  await tdb?.drop();
});

/** Orphans in two stores, left 'pending' as an older node version would have left them. */
async function insertOrphans(count: number): Promise<string[]> {
  const devices = [new DeviceSim(randomUUID()), new DeviceSim(randomUUID())];
  const events = Array.from({ length: count }, (_, i) =>
    devices[i % 2]!.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 3 }],
      total: 3,
    }),
  );
  await tdb.db
    .insertInto('events')
    .values(
      events.map((e) => ({
        event_id: e.event_id,
        store_id: e.store_id,
        device_id: e.device_id,
        seq: e.seq,
        type: e.type,
        vector_clock: JSON.stringify(e.vector_clock),
        payload: JSON.stringify(e.payload),
        full_payload_hash: hashPayload(e.payload),
        created_at: e.created_at,
        hlc: e.created_at,
        origin_node: 'node-old',
        actor_user_id: null,
        source: 'device' as const,
        projection_status: 'pending' as const,
        projection_error: null,
      })),
    )
    .execute();
  return events.map((e) => e.event_id);
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('the schedule (overlap SKIP) heals orphans on its own, and a later ensureSchedules updates it in place', async () => {
  const orphanIds = await insertOrphans(6);

  const ids = await ensureSchedules(client, config);
  expect(ids).toEqual([
    `${nodeId}:orphan-healer`,
    `${nodeId}:reconcile-sweep`,
    `${nodeId}:health-snapshot`,
    `${nodeId}:projection-self-check`,
    `${nodeId}:oversell-detector`,
  ]);

  await waitFor(async () => {
    const rows = await tdb.db
      .selectFrom('events')
      .select('projection_status')
      .where('event_id', 'in', orphanIds)
      .where('projection_status', '=', 'processed')
      .execute();
    return rows.length === orphanIds.length ? true : undefined;
  }, 30_000);
  expect(await tdb.db.selectFrom('sales').select('id').execute()).toHaveLength(6);

  const handle = client.schedule.getHandle(ids[0]!);
  const described = await handle.describe();
  expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  expect(described.spec.intervals).toMatchObject([{ every: 1000 }]);
  expect(described.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'orphanHealerWorkflow',
    workflowId: `${nodeId}:orphan-healer`,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [{ batchSize: 50, maxAgeDays: 7 }],
  });
  expect(described.memo).toMatchObject({
    description: expect.stringContaining('Re-projects events'),
    node: nodeId,
  });
  expect(described.info.recentActions.length).toBeGreaterThan(0);

  // A second boot with other settings: no error, same schedule, new spec and action.
  await handle.pause('operator paused it');
  const again = await ensureSchedules(client, {
    ...config,
    ORPHAN_HEALER_INTERVAL_SECONDS: 2,
    ORPHAN_HEALER_BATCH: 20,
  });
  expect(again).toEqual(ids);
  const updated = await handle.describe();
  expect(updated.spec.intervals).toMatchObject([{ every: 2000 }]);
  expect(updated.action).toMatchObject({ args: [{ batchSize: 20, maxAgeDays: 7 }] });
  expect(updated.state.paused).toBe(true);
});
