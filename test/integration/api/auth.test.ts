import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { buildApp } from '../../../api/app';
import { createMetrics } from '../../../infra/metrics';
import { admin, createTestApp, storeWithDevice, testConfig, type TestApp } from '../../support/app';
import { countTableReads } from '../../support/db';

const FAIL_MAX = 10;
const counting = countTableReads('devices');
let app: TestApp;
const storeA = randomUUID();
const storeB = randomUUID();

beforeAll(async () => {
  // A long positive-cache TTL: revocation must still be immediate in this process.
  app = await createTestApp(
    { AUTH_FAIL_MAX: String(FAIL_MAX), AUTH_FAIL_WINDOW_MS: '60000', AUTH_CACHE_TTL_MS: '600000' },
    { withDb: counting.wrap },
  );
});
afterAll(() => app.close());

const bogusDeviceToken = () => `vxd_${randomBytes(32).toString('base64url')}`;

function pull(storeId: string, headers: Record<string, string>, remoteAddress = '127.0.0.1') {
  return app.inject({ method: 'GET', url: `/sync/pull?store_id=${storeId}`, headers, remoteAddress });
}

function countStatuses(statuses: number[]) {
  const by: Record<number, number> = {};
  for (const s of statuses) by[s] = (by[s] ?? 0) + 1;
  return by;
}

describe('failed authentication is rate limited per address, with bounded database lookups', () => {
  test('a flood of 200 distinct bogus device tokens: 429 after the budget, lookups bounded by it', async () => {
    const known = await storeWithDevice(app, storeA);
    const attacker = '203.0.113.7';
    // The shop's till behind the same address authenticated before the flood.
    expect((await pull(storeA, known.headers, attacker)).statusCode).toBe(200);
    const before = counting.counter.reads;

    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        pull(storeA, { authorization: `Bearer ${bogusDeviceToken()}` }, attacker),
      ),
    );
    expect(countStatuses(responses.map((r) => r.statusCode))).toEqual({ 401: FAIL_MAX, 429: 200 - FAIL_MAX });
    const limited = responses.find((r) => r.statusCode === 429)!;
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(counting.counter.reads - before).toBe(FAIL_MAX);

    // Malformed tokens and the admin secret from that address are held back too, without lookups.
    const afterFlood = counting.counter.reads;
    expect((await pull(storeA, { authorization: 'Bearer not-a-token' }, attacker)).statusCode).toBe(429);
    const adminThere = await app.inject({
      method: 'GET',
      url: '/sync/federation/status',
      headers: admin,
      remoteAddress: attacker,
    });
    expect(adminThere.statusCode).toBe(429);
    // The till whose token this process has seen valid keeps working from that address.
    expect((await pull(storeA, known.headers, attacker)).statusCode).toBe(200);
    // Liveness never enters the auth path: no lookup, no 429, even with a bogus header.
    for (let i = 0; i < 20; i++) {
      const health = await app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { authorization: `Bearer ${bogusDeviceToken()}` },
        remoteAddress: attacker,
      });
      expect(health.statusCode).toBe(200);
    }
    expect(counting.counter.reads).toBe(afterFlood);

    // Another address has its own budget: a bogus token there is a plain 401.
    const elsewhere = await pull(storeA, { authorization: `Bearer ${bogusDeviceToken()}` }, '198.51.100.20');
    expect(elsewhere.statusCode).toBe(401);
  });

  test('a bogus token sent again is refused from the negative cache, not looked up again', async () => {
    const token = bogusDeviceToken();
    const before = counting.counter.reads;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await pull(storeA, { authorization: `Bearer ${token}` }, '198.51.100.30')).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect(counting.counter.reads - before).toBe(1);
  });

  test('a valid device token is looked up once, then served from the cache', async () => {
    const storeId = randomUUID();
    const device = await storeWithDevice(app, storeId);
    const before = counting.counter.reads;
    for (let i = 0; i < 30; i++) expect((await pull(storeId, device.headers)).statusCode).toBe(200);
    expect(counting.counter.reads - before).toBe(1);
  });
});

describe('device administration', () => {
  test('GET /stores/{id}/devices lists devices without tokens; unknown store 404', async () => {
    const storeId = randomUUID();
    const one = await storeWithDevice(app, storeId);
    const res = await app.inject({ method: 'GET', url: `/stores/${storeId}/devices`, headers: admin });
    expect(res.statusCode).toBe(200);
    const { devices } = res.json<{ devices: Record<string, unknown>[] }>();
    expect(devices).toEqual([
      {
        device_id: one.deviceId,
        store_id: storeId,
        name: 'POS 1',
        created_at: expect.any(String),
        revoked_at: null,
      },
    ]);
    expect(res.body).not.toContain(one.token);
    expect(res.body).not.toMatch(/token/);
    const missing = await app.inject({
      method: 'GET',
      url: `/stores/${randomUUID()}/devices`,
      headers: admin,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('STORE_NOT_FOUND');
  });

  test('rotate-token: the new token works, the old one is refused at once (401)', async () => {
    const storeId = randomUUID();
    const device = await storeWithDevice(app, storeId);
    // Cached as valid first, so only the in-process invalidation can refuse it now.
    expect((await pull(storeId, device.headers)).statusCode).toBe(200);
    const res = await app.inject({
      method: 'POST',
      url: `/stores/${storeId}/devices/${device.deviceId}/rotate-token`,
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ device_id: string; store_id: string; token: string }>();
    expect(body).toMatchObject({ device_id: device.deviceId, store_id: storeId, name: 'POS 1' });
    expect(body.token).toMatch(/^vxd_/);
    expect(body.token).not.toBe(device.token);
    const old = await pull(storeId, device.headers);
    expect(old.statusCode).toBe(401);
    expect(old.json().error.code).toBe('UNAUTHORIZED');
    expect((await pull(storeId, { authorization: `Bearer ${body.token}` })).statusCode).toBe(200);
  });

  test('revoke: the token is refused at once (401), revoking again keeps revoked_at, rotation is 409', async () => {
    const storeId = randomUUID();
    const device = await storeWithDevice(app, storeId);
    expect((await pull(storeId, device.headers)).statusCode).toBe(200);
    const url = `/stores/${storeId}/devices/${device.deviceId}`;
    const res = await app.inject({ method: 'POST', url: `${url}/revoke`, headers: admin });
    expect(res.statusCode).toBe(200);
    const revokedAt = res.json().revoked_at as string;
    expect(new Date(revokedAt).getTime()).not.toBeNaN();
    expect((await pull(storeId, device.headers)).statusCode).toBe(401);
    const push = await app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: device.headers,
      payload: { store_id: storeId, device_id: device.deviceId, events: [] },
    });
    expect(push.statusCode).toBe(401);

    const again = await app.inject({ method: 'POST', url: `${url}/revoke`, headers: admin });
    expect(again.statusCode).toBe(200);
    expect(again.json().revoked_at).toBe(revokedAt);
    const rotate = await app.inject({ method: 'POST', url: `${url}/rotate-token`, headers: admin });
    expect(rotate.statusCode).toBe(409);
    expect(rotate.json().error.code).toBe('DEVICE_REVOKED');
    const list = await app.inject({ method: 'GET', url: `/stores/${storeId}/devices`, headers: admin });
    expect(list.json().devices[0].revoked_at).toBe(revokedAt);
  });

  test('a device of another store in the path is 404 and stays untouched', async () => {
    await storeWithDevice(app, storeB);
    const otherStore = randomUUID();
    const other = await storeWithDevice(app, otherStore);
    for (const action of ['revoke', 'rotate-token']) {
      const res = await app.inject({
        method: 'POST',
        url: `/stores/${storeB}/devices/${other.deviceId}/${action}`,
        headers: admin,
      });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('DEVICE_NOT_FOUND');
    }
    expect((await pull(otherStore, other.headers)).statusCode).toBe(200);
  });

  test('device routes are admin only (a device token gets 403)', async () => {
    const storeId = randomUUID();
    const device = await storeWithDevice(app, storeId);
    for (const [method, path] of [
      ['GET', ''],
      ['POST', `/${device.deviceId}/revoke`],
      ['POST', `/${device.deviceId}/rotate-token`],
    ] as const) {
      const res = await app.inject({
        method,
        url: `/stores/${storeId}/devices${path}`,
        headers: device.headers,
      });
      expect(res.statusCode).toBe(403);
    }
    expect((await pull(storeId, device.headers)).statusCode).toBe(200);
  });

  test('registering a device id that exists answers 409 DEVICE_EXISTS', async () => {
    const device = await storeWithDevice(app, randomUUID());
    const res = await app.inject({
      method: 'POST',
      url: `/stores/${storeB}/devices`,
      headers: admin,
      payload: { name: 'again', device_id: device.deviceId },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('DEVICE_EXISTS');
  });

  test('another API replica with AUTH_CACHE_TTL_MS=0 refuses a token revoked elsewhere at once', async () => {
    const replica = await buildApp({
      config: testConfig({ DATABASE_URL: app.t.url, AUTH_CACHE_TTL_MS: '0' }),
      db: app.t.db,
      log: pino({ level: 'silent' }),
      metrics: createMetrics(),
      checkTemporal: async () => {},
      checkWorker: async () => {},
    });
    try {
      const storeId = randomUUID();
      const device = await storeWithDevice(app, storeId);
      const viaReplica = () =>
        replica.inject({ method: 'GET', url: `/sync/pull?store_id=${storeId}`, headers: device.headers });
      expect((await viaReplica()).statusCode).toBe(200);
      const revoke = await app.inject({
        method: 'POST',
        url: `/stores/${storeId}/devices/${device.deviceId}/revoke`,
        headers: admin,
      });
      expect(revoke.statusCode).toBe(200);
      expect((await viaReplica()).statusCode).toBe(401);
    } finally {
      await replica.close();
    }
  });
});
