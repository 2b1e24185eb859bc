import { randomUUID } from 'node:crypto';
import { raiseAlert } from '../../../infra/repositories/alerts';
import { saveSnapshot } from '../../../infra/repositories/health-snapshots';
import { alertWebhookOf } from '../../../infra/repositories/store-alert-settings';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';

// The health routes over HTTP: admin only, store-scoped, bad input answered 4xx.

let app: TestApp;
const storeId = randomUUID();
let device: { authorization: string };

beforeAll(async () => {
  app = await createTestApp();
  device = (await storeWithDevice(app, storeId)).headers;
});
afterAll(async () => {
  await app?.close();
});

it('GET /sync/federation/health: admin only, the seed block and findings; unknown store 404, bad id 400', async () => {
  expect((await app.inject({ url: `/sync/federation/health?store_id=${storeId}` })).statusCode).toBe(401);
  expect(
    (await app.inject({ url: `/sync/federation/health?store_id=${storeId}`, headers: device })).statusCode,
  ).toBe(403);
  const res = await app.inject({ url: `/sync/federation/health?store_id=${storeId}`, headers: admin });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({
    storeId,
    overallHealth: 'healthy',
    metrics: { eventLagCount: 0, projectionGapCount: 0, negativeStockCount: 0, remoteReachable: true },
    consistency: { outbox: { note: expect.stringContaining('no outbox table') } },
    findings: [],
  });
  const missing = await app.inject({
    url: `/sync/federation/health?store_id=${randomUUID()}`,
    headers: admin,
  });
  expect(missing.statusCode).toBe(404);
  const bad = await app.inject({ url: '/sync/federation/health?store_id=1%00', headers: admin });
  expect(bad.statusCode).toBe(400);
});

it('GET /sync/federation/health/history returns the snapshots of the last hours, oldest first', async () => {
  const now = Date.now();
  for (const [ago, overall] of [
    [30 * 3600_000, 'critical'],
    [2 * 3600_000, 'degraded'],
    [60_000, 'healthy'],
  ] as const) {
    await saveSnapshot(app.t.db, {
      store_id: storeId,
      taken_at: new Date(now - ago),
      overall,
      report: { overall },
    });
  }
  const res = await app.inject({
    url: `/sync/federation/health/history?store_id=${storeId}&hours=24`,
    headers: admin,
  });
  expect(res.statusCode).toBe(200);
  expect(res.json().snapshots.map((s: { overall: string }) => s.overall)).toEqual(['degraded', 'healthy']);
  const tooLong = await app.inject({
    url: `/sync/federation/health/history?store_id=${storeId}&hours=99999`,
    headers: admin,
  });
  expect(tooLong.statusCode).toBe(400);
});

it('alerts: listed per store, acknowledged and resolved by id; an unknown id 404', async () => {
  const a = await raiseAlert(app.t.db, {
    type: 'OVERSELLING_DETECTED',
    severity: 'P2',
    store_id: storeId,
    subject: 'x',
  });
  const list = await app.inject({ url: `/alerts?store_id=${storeId}`, headers: admin });
  expect(list.json().alerts).toEqual([expect.objectContaining({ id: a.id, status: 'open', occurrences: 1 })]);
  const ack = await app.inject({ method: 'POST', url: `/alerts/${a.id}/acknowledge`, headers: admin });
  expect(ack.json()).toEqual({ id: a.id, status: 'acknowledged' });
  const open = await app.inject({ url: `/alerts?store_id=${storeId}&status=open`, headers: admin });
  expect(open.json().alerts).toEqual([]);
  expect(
    (await app.inject({ method: 'POST', url: '/alerts/987654321/resolve', headers: admin })).statusCode,
  ).toBe(404);
  expect(
    (await app.inject({ method: 'POST', url: `/alerts/${a.id}/delete`, headers: admin })).statusCode,
  ).toBe(400);
});

it('PUT /stores/{id}/alert-webhook: an http(s) URL or null; anything else 400', async () => {
  const url = `/stores/${storeId}/alert-webhook`;
  const set = await app.inject({
    method: 'PUT',
    url,
    headers: admin,
    payload: { url: 'https://hooks.example/alerts' },
  });
  expect(set.json()).toEqual({ store_id: storeId, webhook: true });
  expect(await alertWebhookOf(app.t.db, storeId)).toBe('https://hooks.example/alerts');
  const bad = await app.inject({
    method: 'PUT',
    url,
    headers: admin,
    payload: { url: 'file:///etc/passwd' },
  });
  expect(bad.statusCode).toBe(400);
  await app.inject({ method: 'PUT', url, headers: admin, payload: { url: null } });
  expect(await alertWebhookOf(app.t.db, storeId)).toBeNull();
});
