import { Connection } from '@temporalio/client';
import pino from 'pino';
import { buildApp, type AppDeps } from '../../api/app';
import { configSchema, type Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { createMetrics } from '../../infra/metrics';
import type { WorkerCheck } from '../../infra/temporal/worker-health';
import { createTestDatabase, type TestDatabase } from './db';

export const ADMIN_SECRET = 'test-admin-secret-0123456789';
export const admin = { authorization: `Bearer ${ADMIN_SECRET}` };

export function testConfig(overrides: Record<string, string> = {}): Config {
  return Object.freeze(
    configSchema.parse({
      NODE_ID: 'node-test',
      DATABASE_URL: process.env.DATABASE_URL,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
      ADMIN_SECRET,
      LOG_LEVEL: 'silent',
      ...overrides,
    }),
  );
}

export type TestApp = Awaited<ReturnType<typeof buildApp>> & { t: TestDatabase; config: Config };

/**
 * The real API on a fresh database, with its health check against the real Temporal server. API
 * tests run no worker: /healthz reports the worker as `checkWorker` says (test/integration/api/
 * healthz.test.ts checks the real ones). `withDb` may wrap the API's database handle (e.g. with a
 * kysely plugin that counts queries), `withTemporalCheck` the real Temporal check; `onRoute` sees every route registered (the auth matrix).
 */
export async function createTestApp(
  overrides: Record<string, string> = {},
  {
    checkWorker = () => Promise.resolve(),
    withDb = (db) => db,
    withTemporalCheck = (check) => check,
    ...deps
  }: {
    checkWorker?: WorkerCheck;
    withDb?: (db: Db) => Db;
    withTemporalCheck?: (check: () => Promise<void>) => () => Promise<void>;
  } & Pick<AppDeps, 'onRoute' | 'temporal' | 'onEventsCommitted' | 'onFiscalExhausted'> = {},
): Promise<TestApp> {
  const t = await createTestDatabase('api');
  const config = testConfig({ ...overrides, DATABASE_URL: t.url });
  let connection: Connection | undefined;
  const app = await buildApp({
    config,
    db: withDb(t.db),
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    ...deps,
    checkTemporal: withTemporalCheck(async () => {
      connection ??= await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 2000 });
      await connection.healthService.check({});
    }),
    checkWorker,
  });
  app.addHook('onClose', async () => {
    await connection?.close();
    await t.drop();
  });
  return Object.assign(app, { t, config });
}

/** Declares a store and registers one device on it; returns the device's auth header. */
export async function storeWithDevice(app: TestApp, storeId: string, deviceId?: string) {
  await app.inject({
    method: 'POST',
    url: '/stores',
    headers: admin,
    payload: { id: storeId, name: 'Bodega' },
  });
  const res = await app.inject({
    method: 'POST',
    url: `/stores/${storeId}/devices`,
    headers: admin,
    payload: { name: 'POS 1', ...(deviceId ? { device_id: deviceId } : {}) },
  });
  if (res.statusCode !== 201) throw new Error(`device registration failed: ${res.body}`);
  const body = res.json<{ device_id: string; token: string }>();
  return { deviceId: body.device_id, token: body.token, headers: { authorization: `Bearer ${body.token}` } };
}
