import { ScheduleOverlapPolicy } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import pino from 'pino';
import { ensureErpSchedules } from '../../../actors/erp/schedules';
import { buildApp } from '../../../api/app';
import { createDb } from '../../../infra/db';
import { createMetrics } from '../../../infra/metrics';
import { erpMaintenanceWorkflow } from '../../../workflows/erp/maintenance';
import { apiKey, erpTestConfig, registerVendor } from '../../support/erp';
import { createErpStack, type ErpStack } from '../../support/erp-worker';
import { uniqueName } from '../../support/temporal';

// REQ-10, 11: the seed's periodic tasks as Temporal Schedules, alerts to the log, the alerts table
// and a webhook, retention, and the health endpoint (503 when the database is down).

let stack: ErpStack;
let webhook: { url: string; posts: unknown[]; close: () => Promise<void> };
beforeAll(async () => {
  const posts: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  webhook = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
  stack = await createErpStack({ SLACK_WEBHOOK_URL: webhook.url });
});
afterAll(async () => {
  await stack?.close();
  await webhook?.close();
});

const app = () => stack.app;
const runTask = (
  task: 'agent-health' | 'dlq-alerts' | 'expired-jobs' | 'archive-reconciliation' | 'resolved-dlq',
) =>
  stack.env.client.workflow.execute(erpMaintenanceWorkflow, {
    taskQueue: stack.taskQueue,
    workflowId: uniqueName(`erp-${task}`),
    args: [{ task }],
  });

test('the six periodic tasks are Temporal Schedules with the seed specs, overlap skip; ensuring twice is idempotent', async () => {
  const nodeId = `erp-sched-${randomBytes(3).toString('hex')}`;
  const config = { ...app().config, NODE_ID: nodeId };
  const ids = await ensureErpSchedules(stack.env.client, config);
  try {
    expect(await ensureErpSchedules(stack.env.client, config)).toEqual(ids);
    expect(ids.map((id) => id.slice(nodeId.length + 1))).toEqual([
      'erp-drift-detection',
      'erp-agent-health',
      'erp-dlq-alerts',
      'erp-expired-jobs',
      'erp-archive-reconciliation',
      'erp-resolved-dlq',
      'erp-order-sweep',
    ]);
    const drift = await stack.env.client.schedule.getHandle(ids[0]!).describe();
    expect(drift.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(drift.spec.calendars?.[0]).toMatchObject({ minute: [{ start: 0, end: 0, step: 1 }] });
    expect(drift.memo).toMatchObject({ node: nodeId });
    const health = await stack.env.client.schedule.getHandle(ids[1]!).describe();
    expect(health.spec.intervals?.[0]?.every).toBe(5 * 60_000);
    const cleanup = await stack.env.client.schedule.getHandle(ids[3]!).describe();
    expect(cleanup.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }] });
    const orders = await stack.env.client.schedule.getHandle(ids[6]!).describe();
    expect(orders.spec.intervals?.[0]?.every).toBe(config.ERP_ORDER_SWEEP_SECONDS * 1000);
    expect(orders.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  } finally {
    for (const id of ids) await stack.env.client.schedule.getHandle(id).delete();
  }
});

test('agent health: an offline agent raises agent_offline (alerts table, node-wide, webhook once per hour)', async () => {
  const v = await registerVendor(app());
  await sql`UPDATE erp_agents SET last_heartbeat_at = now() - interval '10 minutes' WHERE vendor_id = ${v.vendorId}`.execute(
    app().t.db,
  );
  expect(await runTask('agent-health')).toMatchObject({ task: 'agent-health', count: 1 });
  expect(await runTask('agent-health')).toMatchObject({ count: 1 });
  const alerts = await app()
    .t.db.selectFrom('alerts')
    .selectAll()
    .where('type', '=', 'agent_offline')
    .execute();
  expect(alerts).toHaveLength(1);
  expect(alerts[0]).toMatchObject({ store_id: null, severity: 'P1', occurrences: 2 });
  expect(webhook.posts.filter((p) => JSON.stringify(p).includes(v.vendorId))).toHaveLength(1);
});

test('DLQ alert check and retention: completed jobs after 24 h, others after 7 days, resolved dead letters and old events after 30 days', async () => {
  const v = await registerVendor(app());
  const db = app().t.db;
  const job = (status: 'completed' | 'failed' | 'pending', hoursAgo: number) =>
    db
      .insertInto('erp_sync_jobs')
      .values({
        vendor_id: v.vendorId,
        order_id: null,
        job_type: 'create-order',
        payload: '{}',
        status,
        correlation_id: 'c',
        updated_at: new Date(Date.now() - hoursAgo * 3_600_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  const oldDone = await job('completed', 25);
  const freshDone = await job('completed', 1);
  const oldFailed = await job('failed', 24 * 8);
  const recentFailed = await job('failed', 24 * 6);
  const dlJob = await job('failed', 24 * 8);
  await db
    .insertInto('erp_dead_letters')
    .values({ job_id: dlJob.id, vendor_id: v.vendorId, payload: '{}', error: 'x', attempts: 5 })
    .execute();
  // A failed job past its 7 days whose dead letter was resolved yesterday: the job goes, the dead
  // letter stays (resolved ones are kept 30 days), without its job.
  const resolvedYesterday = await job('failed', 24 * 8);
  const keptDl = await db
    .insertInto('erp_dead_letters')
    .values({
      job_id: resolvedYesterday.id,
      vendor_id: v.vendorId,
      payload: '{}',
      error: 'x',
      attempts: 5,
      resolved_at: new Date(Date.now() - 86_400_000),
      resolved_by: 'admin',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const resolvedJob = await job('pending', 1);
  await db
    .insertInto('erp_dead_letters')
    .values({
      job_id: resolvedJob.id,
      vendor_id: v.vendorId,
      payload: '{}',
      error: 'x',
      attempts: 5,
      resolved_at: new Date(Date.now() - 31 * 86_400_000),
      resolved_by: 'admin',
    })
    .execute();
  await db
    .insertInto('erp_reconciliation_events')
    .values([
      {
        vendor_id: v.vendorId,
        event_type: 'in_sync',
        trigger: 'schedule',
        summary: '{}',
        duration_ms: 1,
        created_at: new Date(Date.now() - 31 * 86_400_000),
      },
      { vendor_id: v.vendorId, event_type: 'in_sync', trigger: 'schedule', summary: '{}', duration_ms: 1 },
    ])
    .execute();

  expect(await runTask('dlq-alerts')).toMatchObject({ count: 1 });
  expect(
    await db.selectFrom('alerts').select('subject').where('type', '=', 'dlq_entries_found').execute(),
  ).toEqual([{ subject: `vendor ${v.vendorId} has 1 unresolved dead letter(s)` }]);

  await runTask('expired-jobs');
  const left = (
    await db.selectFrom('erp_sync_jobs').select('id').where('vendor_id', '=', v.vendorId).execute()
  ).map((r) => r.id);
  expect(left.sort()).toEqual([freshDone.id, recentFailed.id, dlJob.id, resolvedJob.id].sort());
  expect(left).not.toContain(oldDone.id);
  expect(left).not.toContain(oldFailed.id);

  expect(left).not.toContain(resolvedYesterday.id);
  expect(
    await db.selectFrom('erp_dead_letters').select('job_id').where('id', '=', keptDl.id).execute(),
  ).toEqual([{ job_id: null }]);

  expect(await runTask('resolved-dlq')).toMatchObject({ count: 1 });
  expect(await runTask('archive-reconciliation')).toMatchObject({ count: 1 });
  expect(
    await db
      .selectFrom('erp_dead_letters')
      .select('job_id')
      .where('vendor_id', '=', v.vendorId)
      .orderBy('created_at')
      .execute(),
  ).toEqual([{ job_id: dlJob.id }, { job_id: null }]);
});

test('health reports database, Temporal and agents; 503 when the database is down', async () => {
  await registerVendor(app());
  // The seed's GET /health is served too, with the same body; it names agents, so it takes a credential.
  expect((await app().inject({ method: 'GET', url: '/health' })).statusCode).toBe(401);
  const seedPath = await app().inject({ method: 'GET', url: '/health', headers: apiKey });
  expect(seedPath.statusCode).toBe(200);
  expect(seedPath.json()).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  const ok = await app().inject({ method: 'GET', url: '/api/health', headers: apiKey });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toMatchObject({
    status: 'ok',
    info: {
      database: { status: 'up' },
      temporal: { status: 'up' },
      agents: { status: 'up', online: expect.any(Number), total: expect.any(Number) },
    },
  });

  const deadDb = createDb('postgres://velox:velox@127.0.0.1:1/none', { connectTimeoutMs: 500 });
  const down = await buildApp({
    config: erpTestConfig(),
    db: deadDb,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    checkTemporal: () => Promise.resolve(),
    checkWorker: () => Promise.resolve(),
  });
  try {
    const res = await down.inject({ method: 'GET', url: '/api/health', headers: apiKey });
    expect(res.statusCode).toBe(503);
    expect((await down.inject({ method: 'GET', url: '/health', headers: apiKey })).statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'error',
      info: { database: { status: 'down' }, agents: { status: 'down' } },
    });
  } finally {
    await down.close();
    await deadDb.destroy();
  }
});
