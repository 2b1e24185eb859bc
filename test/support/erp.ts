import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Connection } from '@temporalio/client';
import pino, { type Logger } from 'pino';
import { buildApp } from '../../api/app';
import type { Config } from '../../infra/config';
import { createMetrics } from '../../infra/metrics';
import { ADMIN_SECRET, testConfig } from './app';
import { createTestDatabase, type TestDatabase } from './db';
import { BASE_MAPPINGS } from './erp-agent';

export const AGENT_SECRET = 'test-agent-secret-0123456789';
export const API_SECRET = 'test-api-secret-0123456789abcdef';
export const apiKey = { 'x-api-key': API_SECRET };
export { ADMIN_SECRET };

/** ERP settings of the tests: generous rate limits (one test checks them), the rest as given. */
export function erpTestConfig(overrides: Record<string, string> = {}): Config {
  return testConfig({
    AGENT_SECRET,
    API_SECRET,
    ERP_RATE_LIMIT_ADMIN: '100000',
    ERP_RATE_LIMIT_SYNC: '100000',
    ERP_RATE_LIMIT_BATCH: '100000',
    ERP_RATE_LIMIT_HEARTBEAT: '100000',
    ERP_RATE_LIMIT_REGISTER: '100000',
    ...overrides,
  });
}

export type ErpTestApp = Awaited<ReturnType<typeof buildApp>> & { t: TestDatabase; config: Config };

/** The real API on a fresh database, with the ERP settings and (optionally) a Temporal client. */
export async function createErpTestApp(
  overrides: Record<string, string> = {},
  opts: { temporal?: Client; db?: TestDatabase; log?: Logger } = {},
): Promise<ErpTestApp> {
  const t = opts.db ?? (await createTestDatabase('erp'));
  const config = erpTestConfig({ ...overrides, DATABASE_URL: t.url });
  let connection: Connection | undefined;
  const app = await buildApp({
    config,
    db: t.db,
    log: opts.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics(),
    temporal: opts.temporal,
    checkTemporal: async () => {
      connection ??= await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 2000 });
      await connection.healthService.check({});
    },
    checkWorker: () => Promise.resolve(),
  });
  app.addHook('onClose', async () => {
    await connection?.close();
    if (!opts.db) await t.drop();
  });
  return Object.assign(app, { t, config });
}

export const newVendor = () => `vendor-${randomBytes(4).toString('hex')}`;
export const newToken = () => `agent-token-${randomBytes(16).toString('hex')}`;

/** Registers an agent for a vendor and seeds the usual mappings; returns its auth header. */
export async function registerVendor(
  app: ErpTestApp,
  agentUrl = 'http://127.0.0.1:9',
  vendorId = newVendor(),
) {
  const token = newToken();
  const res = await app.inject({
    method: 'POST',
    url: '/api/agents/register',
    headers: { authorization: `Bearer ${AGENT_SECRET}` },
    payload: { vendorId, agentUrl, authToken: token, version: '1.0.0' },
  });
  if (res.statusCode !== 201) throw new Error(`registration failed: ${res.statusCode} ${res.body}`);
  const seed = await app.inject({
    method: 'POST',
    url: '/api/admin/mappings/seed',
    headers: apiKey,
    payload: { mappings: BASE_MAPPINGS(vendorId) },
  });
  if (seed.statusCode !== 200) throw new Error(`mapping seed failed: ${seed.body}`);
  return { vendorId, token, headers: { authorization: `Bearer ${token}` } };
}
