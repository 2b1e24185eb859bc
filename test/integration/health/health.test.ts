import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../../infra/config';
import { connectTemporal } from '../../../infra/temporal/client';
import { installTemporalRuntime } from '../../../infra/temporal/logging';
import { listAlerts, raiseAlert } from '../../../infra/repositories/alerts';
import { saveSnapshot } from '../../../infra/repositories/health-snapshots';
import { setAlertWebhook } from '../../../infra/repositories/store-alert-settings';
import { declareStore } from '../../../infra/repositories/stores';
import { selfCheckStore } from '../../../infra/projections/self-check';
import { buildHealthReport } from '../../../actors/health';
import { ensureSchedules } from '../../../actors/schedules';
import { connectWorker, createNodeWorker } from '../../../app/worker';
import { healthMonitorWorkflow, type HealthMonitorInput } from '../../../workflows/health-monitor';
import { alertWorkflowId } from '../../../workflows/ids';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push } from '../../support/projections';
import {
  bundleWorkflows,
  temporalAddress,
  temporalNamespace,
  testLog,
  uniqueName,
} from '../../support/temporal';

// The federation health of a store from real state (PostgreSQL, the Temporal server, a peer that
// does not answer), the HealthMonitor's snapshots and alerts, and alert delivery to a webhook that
// fails before it accepts.

let tdb: TestDatabase;
let config: Config;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
const nodeId = uniqueName('node-health');

beforeAll(async () => {
  installTemporalRuntime(testLog);
  tdb = await createTestDatabase('health');
  config = loadConfig({
    NODE_ID: nodeId,
    DATABASE_URL: tdb.url,
    ADMIN_SECRET: 'a-test-admin-secret-0123456789',
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: temporalNamespace(),
    TEMPORAL_TASK_QUEUE: uniqueName('health'),
    // A peer nobody listens on: unreachable, and its relay actor is not running.
    PEERS: JSON.stringify([{ id: 'cloud', url: 'http://127.0.0.1:9', token: 'peer-token-0123456789abcdef' }]),
  });
  const bundle = bundleWorkflows();
  [{ connection, client }, nativeConnection] = await Promise.all([
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
  if (worker) {
    worker.shutdown();
    await running;
  }
  await nativeConnection?.close();
  await connection?.close();
  await tdb?.drop();
});

const report = (storeId: string) => buildHealthReport({ db: tdb.db, config, temporal: client }, storeId);

async function storeWithSales(sales: number, opts: { stock?: number } = {}) {
  const storeId = randomUUID();
  await declareStore(tdb.db, { id: storeId, name: 'Bodega' });
  const device = new DeviceSim(storeId, 'pos-1');
  const products = Array.from({ length: sales }, () => randomUUID());
  const events = [];
  if (opts.stock)
    for (const p of products) events.push(device.event('StockReceived', { product_id: p, qty: opts.stock }));
  for (const p of products)
    events.push(
      device.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: p, qty: 1, unit_price: 2 }],
      }),
    );
  await push(tdb.db, events, { nodeId });
  return { storeId, products, events };
}

const monitorInput = (overrides: Partial<HealthMonitorInput> = {}): HealthMonitorInput => ({
  nodeId,
  offlineAfterSeconds: 300,
  retention: { snapshots: 30, conflictAudit: 90, deadLetters: 30, alerts: 90 },
  retry: { initialMs: 200, maxMs: 400 },
  ...overrides,
});
const runMonitor = (input = monitorInput()) =>
  client.workflow.execute(healthMonitorWorkflow, {
    workflowId: uniqueName('health-monitor-test'),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
  });

describe('the health report, from real state', () => {
  it('a store with stock for what it sold is healthy on every store metric; the unreachable peer is critical', async () => {
    const { storeId } = await storeWithSales(3, { stock: 5 });
    const r = await report(storeId);
    expect(r.metrics).toMatchObject({
      projectionGapCount: 0,
      stockDivergenceCount: 0,
      negativeStockCount: 0,
      failedJobs: 0,
      queueDepth: 0,
      remoteReachable: false,
    });
    const { remoteUnreachable, ...rest } = r.levels;
    expect(remoteUnreachable).toBe('critical');
    expect(Object.values(rest).every((l) => l === 'ok')).toBe(true);
    expect(r.overallHealth).toBe('critical');
    expect(r.findings[0]).toMatchObject({ metric: 'remoteUnreachable', ids: { peer_id: 'cloud' } });
    // The relay actor is not running here, and the report says so instead of counting zero lag.
    expect(r.unmeasured.join()).toMatch(/relay to cloud/);
    expect(r.federation.peers[0]).toMatchObject({ peer_id: 'cloud', reachable: false, lag_events: null });
  });

  it('healthy with a reachable peer; a sale missing from its read model makes it degraded, naming the event', async () => {
    const reachable = { probe: async () => ({ reachable: true, latencyMs: 3, error: null }) };
    const { storeId, events } = await storeWithSales(2, { stock: 5 });
    const healthy = await buildHealthReport(
      { db: tdb.db, config: { ...config, PEERS: [] }, temporal: client, ...reachable },
      storeId,
    );
    expect(healthy.overallHealth).toBe('healthy');
    expect(healthy.findings).toEqual([]);
    expect(healthy.unmeasured).toEqual([]);

    const sale = events.find((e) => e.type === 'SaleCreated')!;
    await tdb.db
      .deleteFrom('sales')
      .where('store_id', '=', storeId)
      .where('event_id', '=', sale.event_id)
      .execute();
    const gap = await buildHealthReport(
      { db: tdb.db, config: { ...config, PEERS: [] }, temporal: client, ...reachable },
      storeId,
    );
    expect(gap.overallHealth).toBe('degraded');
    expect(gap.levels.projectionGapsSales).toBe('warning');
    expect(gap.consistency.projectionGaps).toMatchObject({ sales: 1, debts: 0 });
    expect(gap.findings).toEqual([
      expect.objectContaining({
        metric: 'projectionGaps',
        ids: expect.objectContaining({ event_id: sale.event_id }),
      }),
    ]);
  });

  it('an event whose projection keeps failing counts as a gap, whatever its type (the gap alert holds on the count)', async () => {
    const { storeId, events } = await storeWithSales(1, { stock: 5 });
    expect((await report(storeId)).metrics.projectionGapCount).toBe(0);
    // A StockReceived has no row the gap probes look for: only its failed status shows it.
    const receipt = events.find((e) => e.type === 'StockReceived')!;
    await tdb.db
      .updateTable('events')
      .set({ projection_status: 'failed' })
      .where('store_id', '=', storeId)
      .where('event_id', '=', receipt.event_id)
      .execute();
    const r = await report(storeId);
    expect(r.metrics.projectionGapCount).toBe(1);
    expect(r.consistency.projectionGaps).toMatchObject({ sales: 0, unprojected: 1, unprojectedOther: 1 });
  });

  it('more than five products below zero is critical, each named with its quantity', async () => {
    const { storeId, products } = await storeWithSales(6);
    const r = await buildHealthReport(
      { db: tdb.db, config: { ...config, PEERS: [] }, temporal: client },
      storeId,
    );
    expect(r.metrics.negativeStockCount).toBe(6);
    expect(r.levels.negativeStock).toBe('critical');
    expect(r.overallHealth).toBe('critical');
    const named = r.findings.filter((f) => f.metric === 'negativeStock');
    expect(named.map((f) => f.ids.product_id).sort()).toEqual([...products].sort());
    expect(named[0]!.message).toMatch(/is at -1 in warehouse/);
  });

  it('stock changed behind the node’s back diverges from its movements; a store never sees another’s rows', async () => {
    const a = await storeWithSales(1, { stock: 5 });
    const b = await storeWithSales(1, { stock: 5 });
    await tdb.db
      .updateTable('warehouse_stock')
      .set({ stock: '40' })
      .where('store_id', '=', a.storeId)
      .execute();
    const [ra, rb] = await Promise.all([report(a.storeId), report(b.storeId)]);
    expect(ra.metrics.stockDivergenceCount).toBe(1);
    expect(ra.findings.find((f) => f.metric === 'stockDivergence')!.message).toMatch(
      /is 40, but its movements add up to 4/,
    );
    expect(rb.metrics.stockDivergenceCount).toBe(0);
  });

  it('a movement deleted behind the node’s back diverges at once; one the movement totals did not see is found by the self-check', async () => {
    const a = await storeWithSales(1, { stock: 5 });
    await tdb.db
      .deleteFrom('stock_movements')
      .where('store_id', '=', a.storeId)
      .where('kind', '=', 'sale')
      .execute();
    const ra = await report(a.storeId);
    expect(ra.metrics.stockDivergenceCount).toBe(1);
    expect(ra.findings.find((f) => f.metric === 'stockDivergence')!.message).toMatch(
      /is 4, but its movements add up to 5/,
    );

    // With the totals' triggers off (a restore, a replica), the live check compares two stale sums;
    // the daily self-check sums every movement again. Inside one transaction no one else sees the
    // triggers off.
    const c = await storeWithSales(1, { stock: 5 });
    await tdb.db.transaction().execute(async (trx) => {
      await sql`ALTER TABLE stock_movements DISABLE TRIGGER stock_movement_totals_delete`.execute(trx);
      await trx
        .deleteFrom('stock_movements')
        .where('store_id', '=', c.storeId)
        .where('kind', '=', 'sale')
        .execute();
      await sql`ALTER TABLE stock_movements ENABLE TRIGGER stock_movement_totals_delete`.execute(trx);
    });
    const check = await selfCheckStore(tdb.db, testLog, c.storeId);
    expect(check.tables.find((t) => t.table === 'stock_movement_totals')).toMatchObject({
      count: 1,
      onlyLive: [expect.objectContaining({ product_id: c.products[0] })],
    });
    expect(
      Number(
        (check.tables.find((t) => t.table === 'stock_movement_totals')!.onlyLive[0] as { total: string })
          .total,
      ),
    ).toBe(4);
    expect(
      Number(
        (
          check.tables.find((t) => t.table === 'stock_movement_totals')!.onlyRebuilt[0] as {
            movements: string;
          }
        ).movements,
      ),
    ).toBe(5);
  });
});

describe('HealthMonitor', () => {
  it('saves a snapshot per store and raises an alert on the transition only', async () => {
    const { storeId, events } = await storeWithSales(1, { stock: 5 });
    await runMonitor();
    const sale = events.find((e) => e.type === 'SaleCreated')!;
    await tdb.db
      .deleteFrom('sales')
      .where('store_id', '=', storeId)
      .where('event_id', '=', sale.event_id)
      .execute();
    const second = await runMonitor();
    expect(second.overall[storeId]).toBe('critical');
    const snapshots = await tdb.db
      .selectFrom('health_snapshots')
      .selectAll()
      .where('store_id', '=', storeId)
      .execute();
    expect(snapshots).toHaveLength(2);
    const alerts = await listAlerts(tdb.db, { store_id: storeId });
    expect(alerts.map((a) => a.type)).toContain('PROJECTION_GAP_DETECTED');
    const gapAlerts = alerts.filter((a) => a.type === 'PROJECTION_GAP_DETECTED');
    expect(gapAlerts).toHaveLength(1);
    await runMonitor();
    // The gap is still there: no new alert and no new occurrence (it is not a transition).
    expect(
      (await listAlerts(tdb.db, { store_id: storeId, type: 'PROJECTION_GAP_DETECTED' }))[0],
    ).toMatchObject({
      id: gapAlerts[0]!.id,
      occurrences: 1,
    });
  });

  it('FEDERATION_OFFLINE once the peer stays unreachable longer than the limit', async () => {
    const { storeId } = await storeWithSales(1, { stock: 5 });
    await runMonitor(monitorInput({ offlineAfterSeconds: 1 }));
    expect(await listAlerts(tdb.db, { store_id: storeId, type: 'FEDERATION_OFFLINE' })).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1200));
    await runMonitor(monitorInput({ offlineAfterSeconds: 1 }));
    const [offline] = await listAlerts(tdb.db, { store_id: storeId, type: 'FEDERATION_OFFLINE' });
    expect(offline).toMatchObject({ severity: 'P1', status: 'open' });
    expect(offline!.subject).toMatch(/node cloud unreachable since/);
  });

  it('delivers an alert to the store webhook, retrying until the receiver accepts it', async () => {
    const received: { status: number; body: { id: string; type: string } }[] = [];
    const receiver = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const status = received.length < 3 ? 503 : 204;
        received.push({ status, body: JSON.parse(text) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const { storeId } = await storeWithSales(6);
      await setAlertWebhook(
        tdb.db,
        storeId,
        `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      );
      const result = await runMonitor();
      expect(result.deliveries).toBeGreaterThan(0);
      const alerts = await listAlerts(tdb.db, { store_id: storeId });
      // The monitor's two, and the push's soft stock check's one per oversold product (docs/escrow.md):
      // all of them are the monitor's to deliver.
      const fromIngest = (a: (typeof alerts)[number]) =>
        (a.payload as { detected_by?: string }).detected_by === 'ingest';
      expect(
        alerts
          .filter((a) => !fromIngest(a))
          .map((a) => a.type)
          .sort(),
      ).toEqual(['FEDERATION_CRITICAL', 'OVERSELLING_DETECTED']);
      expect(alerts.filter(fromIngest).map((a) => a.type)).toEqual(Array(6).fill('OVERSELLING_DETECTED'));
      for (const a of alerts) {
        await client.workflow.getHandle(alertWorkflowId(nodeId, a.id)).result();
      }
      const delivered = await listAlerts(tdb.db, { store_id: storeId });
      expect(delivered.every((a) => a.delivered_at !== null)).toBe(true);
      // Three refusals, then one success per alert; each alert accepted exactly once.
      expect(received.filter((r) => r.status === 503)).toHaveLength(3);
      const accepted = received.filter((r) => r.status === 204).map((r) => r.body.id);
      expect(accepted.sort()).toEqual(alerts.map((a) => a.id).sort());
      // The next tick starts no second delivery of a delivered alert.
      expect((await runMonitor()).deliveries).toBe(0);
    } finally {
      receiver.close();
    }
  });
});

describe('projection self-check', () => {
  it('a clean store rebuilds to the same rows; a row changed behind the node’s back is found, saved, alerted and reported', async () => {
    const { storeId, events } = await storeWithSales(3, { stock: 5 });
    const other = await storeWithSales(2, { stock: 5 });
    const check = () =>
      client.workflow.execute('projectionSelfCheckWorkflow', {
        workflowId: uniqueName('self-check-test'),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{ storeId }],
      }) as Promise<{
        differences: number;
        results: {
          events: number;
          tables: { table: string; count: number; onlyLive: { total?: string }[] }[];
        }[];
      }>;
    const clean = await check();
    expect(clean.differences).toBe(0);
    expect(clean.results[0]!.events).toBe(events.length);

    // A sale's total edited by hand, and one of the other store's rows too (not this store's business).
    const sale = events.find((e) => e.type === 'SaleCreated')!;
    await tdb.db
      .updateTable('sales')
      .set({ total: '999.00' })
      .where('store_id', '=', storeId)
      .where('event_id', '=', sale.event_id)
      .execute();
    await tdb.db.updateTable('sales').set({ total: '1.00' }).where('store_id', '=', other.storeId).execute();
    const dirty = await check();
    expect(dirty.differences).toBe(2); // the changed row: once as live, once as rebuilt
    expect(dirty.results[0]!.tables).toEqual([
      expect.objectContaining({
        table: 'sales',
        count: 2,
        onlyLive: [expect.objectContaining({ total: 999 })],
      }),
    ]);
    const [alert] = await listAlerts(tdb.db, { store_id: storeId, type: 'PROJECTION_SELF_CHECK_DIFFERS' });
    expect(alert).toMatchObject({ severity: 'P1', subject: expect.stringContaining('sales: 2') });
    const r = await report(storeId);
    expect(r.consistency.selfCheck).toMatchObject({ differences: 2, events: events.length });
    expect(r.levels.selfCheckDifferences).toBe('warning');
    expect(r.findings.find((f) => f.metric === 'selfCheckDifferences')!.ids).toEqual({ tables: ['sales'] });
  });
});

describe('retention', () => {
  it('prunes what is past its period (audit rows, resolved dead letters, closed alerts, snapshots) and keeps the rest', async () => {
    const storeId = randomUUID();
    await declareStore(tdb.db, { id: storeId, name: 'Bodega' });
    const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
    const audit = (days: number) =>
      tdb.db
        .insertInto('conflict_audit_log')
        .values({
          store_id: storeId,
          entity_type: 'product',
          entity_id: randomUUID(),
          field: 'price',
          winner_event_id: randomUUID(),
          loser_event_ids: [],
          strategy: 'lww',
          winner_payload: null,
          loser_payloads: null,
          details: null,
          resolved_at: ago(days),
        })
        .execute();
    await audit(100);
    await audit(10);
    const letter = (status: 'open' | 'resolved', days: number) =>
      tdb.db
        .insertInto('relay_dead_letters')
        .values({
          peer_id: 'cloud',
          event_id: randomUUID(),
          store_id: storeId,
          node_seq: '1',
          type: 'SaleCreated',
          error_code: 'X',
          error_message: 'x',
          status,
          resolved_at: status === 'resolved' ? ago(days) : null,
        })
        .execute();
    await letter('resolved', 40);
    await letter('open', 40);
    const old = await raiseAlert(tdb.db, {
      type: 'T1',
      severity: 'P3',
      store_id: storeId,
      subject: 'old, acknowledged',
    });
    const open = await raiseAlert(tdb.db, {
      type: 'T2',
      severity: 'P3',
      store_id: storeId,
      subject: 'old, still open',
    });
    await tdb.db
      .updateTable('alerts')
      .set({ last_seen_at: ago(100) })
      .where('id', 'in', [old.id, open.id])
      .execute();
    await tdb.db.updateTable('alerts').set({ status: 'acknowledged' }).where('id', '=', old.id).execute();
    await saveSnapshot(tdb.db, { store_id: storeId, taken_at: ago(40), overall: 'healthy', report: {} });

    const result = await runMonitor();
    expect(result.pruned).toMatchObject({ conflictAudit: 1, deadLetters: 1, alerts: 1 });
    expect(result.pruned.snapshots).toBeGreaterThanOrEqual(1);
    const left = async (table: 'conflict_audit_log' | 'relay_dead_letters' | 'alerts') =>
      (await tdb.db.selectFrom(table).select('store_id').where('store_id', '=', storeId).execute()).length;
    expect(await left('conflict_audit_log')).toBe(1);
    expect(await left('relay_dead_letters')).toBe(1);
    expect((await listAlerts(tdb.db, { store_id: storeId })).map((a) => a.subject)).toContain(
      'old, still open',
    );
    expect((await listAlerts(tdb.db, { store_id: storeId })).map((a) => a.subject)).not.toContain(
      'old, acknowledged',
    );
  });
});

describe('detection time', () => {
  it('a gap made behind the node’s back is in the first snapshot after it, and alerted by that same tick', async () => {
    const scheduled = { ...config, HEALTH_MONITOR_INTERVAL_SECONDS: 2 };
    const ids = await ensureSchedules(client, scheduled);
    try {
      const { storeId, events } = await storeWithSales(1, { stock: 5 });
      const snapshots = () =>
        tdb.db
          .selectFrom('health_snapshots')
          .selectAll()
          .where('store_id', '=', storeId)
          .orderBy('taken_at')
          .execute();
      await waitUntil(async () => (await snapshots()).length > 0, 30_000);
      const sale = events.find((e) => e.type === 'SaleCreated')!;
      const madeAt = new Date();
      await tdb.db
        .deleteFrom('sales')
        .where('store_id', '=', storeId)
        .where('event_id', '=', sale.event_id)
        .execute();
      // The health endpoint sees it at once.
      expect((await report(storeId)).metrics.projectionGapCount).toBe(1);
      await waitUntil(async () => (await snapshots()).filter((s) => s.taken_at > madeAt).length >= 2, 30_000);
      const after = (await snapshots()).filter((s) => s.taken_at > madeAt);
      // The first tick after the gap measured it and raised the alert, before the next tick.
      expect(
        (after[0]!.report as { metrics: { projectionGapCount: number } }).metrics.projectionGapCount,
      ).toBe(1);
      const [alert] = await listAlerts(tdb.db, { store_id: storeId, type: 'PROJECTION_GAP_DETECTED' });
      expect(alert).toBeDefined();
      expect(alert!.created_at.getTime()).toBeLessThan(after[1]!.taken_at.getTime());
    } finally {
      for (const id of ids)
        await client.schedule
          .getHandle(id)
          .delete()
          .catch(() => undefined);
    }
  });
});

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
