import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { buildApp } from '../../../api/app';
import { createDb, dbOptions } from '../../../infra/db';
import { createMetrics } from '../../../infra/metrics';
import { admin, testConfig } from '../../support/app';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';

// The database misbehaving is a retryable 503 with Retry-After, never a 500 or a hang: a lock held
// past lock_timeout (DB_BUSY), PostgreSQL unreachable (DATABASE_UNAVAILABLE), and the node recovers
// by itself when PostgreSQL is back. The outage is a real one: a TCP proxy in front of the shared
// PostgreSQL that the test closes and reopens.

/** Forwards TCP connections to PostgreSQL; close() cuts every connection and refuses new ones. */
class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  // Over TCP: the local server's URL may name its Unix socket directory instead.
  u.searchParams.delete('host');
  return u.toString();
}

async function appOn(databaseUrl: string, overrides: Record<string, string> = {}) {
  const config = testConfig({ DATABASE_URL: databaseUrl, ...overrides });
  const db = createDb(config.DATABASE_URL, dbOptions(config));
  const app = await buildApp({
    config,
    db,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    checkTemporal: () => Promise.resolve(),
    checkWorker: () => Promise.resolve(),
  });
  app.addHook('onClose', () => db.destroy());
  return { app, db };
}

/** A store with one device, declared through the API; returns what a push needs. */
async function deviceOf(app: Awaited<ReturnType<typeof appOn>>['app']) {
  const storeId = randomUUID();
  await app.inject({ method: 'POST', url: '/stores', headers: admin, payload: { id: storeId, name: 'S' } });
  const res = await app.inject({
    method: 'POST',
    url: `/stores/${storeId}/devices`,
    headers: admin,
    payload: { name: 'POS' },
  });
  if (res.statusCode !== 201) throw new Error(`device registration: ${res.statusCode} ${res.body}`);
  const { device_id, token } = res.json<{ device_id: string; token: string }>();
  const sim = new DeviceSim(storeId, device_id);
  const push = (event = sim.event('ProductCreated', { product_id: randomUUID(), name: 'Arepa', price: 1 })) =>
    app.inject({
      method: 'POST',
      url: '/sync/push',
      headers: { authorization: `Bearer ${token}` },
      payload: { store_id: storeId, device_id, events: [event] },
    });
  return { storeId, sim, push, headers: { authorization: `Bearer ${token}` } };
}

/** Fails the test instead of letting a hung request run into jest's timeout. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('db_errors');
});
afterAll(() => t?.drop());

test('every pooled connection carries the configured timeouts, and options in DATABASE_URL still apply', async () => {
  const u = new URL(t.url);
  u.searchParams.set('options', '-c application_name=velox-from-url');
  const { app, db } = await appOn(u.toString(), {
    DB_STATEMENT_TIMEOUT_MS: '12345',
    DB_LOCK_TIMEOUT_MS: '2345',
    DB_IDLE_IN_TX_TIMEOUT_MS: '34567',
  });
  try {
    const settings = await sql<{ name: string; setting: string }>`
      SELECT name, setting FROM pg_settings
      WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'application_name')
      ORDER BY name`.execute(db);
    expect(settings.rows).toEqual([
      { name: 'application_name', setting: 'velox-from-url' },
      { name: 'idle_in_transaction_session_timeout', setting: '34567' },
      { name: 'lock_timeout', setting: '2345' },
      { name: 'statement_timeout', setting: '12345' },
    ]);
  } finally {
    await app.close();
  }
});

test('a lock held by another session makes a push answer 503 DB_BUSY with Retry-After, then it goes through', async () => {
  const { app, db } = await appOn(t.url, { DB_LOCK_TIMEOUT_MS: '500' });
  const holder = new pg.Client({ connectionString: t.url });
  await holder.connect();
  try {
    const device = await deviceOf(app);
    const event = device.sim.event('ProductCreated', { product_id: randomUUID(), name: 'Queso', price: 4 });

    // Every push adds to its hour's anti-entropy digest: a session sitting on that table stalls it.
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE event_digests IN EXCLUSIVE MODE');
    const stuck = await within(10_000, 'the push behind the lock', device.push(event));
    expect(stuck.statusCode).toBe(503);
    expect(stuck.headers['retry-after']).toBe('1');
    expect(stuck.json().error.code).toBe('DB_BUSY');
    const written = await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(db);
    expect(written.rows[0]!.n).toBe('0');

    await holder.query('ROLLBACK');
    const retried = await device.push(event);
    expect(retried.statusCode).toBe(200);
    expect(retried.json().accepted).toEqual([event.event_id]);
  } finally {
    await holder.end();
    await app.close();
  }
});

test('PostgreSQL unreachable: every route answers 503 DATABASE_UNAVAILABLE with Retry-After, not 500', async () => {
  // A port with nothing behind it.
  const closed = new TcpProxy({ host: '127.0.0.1', port: 1 });
  await closed.open();
  const port = closed.port;
  await closed.close();
  const { app } = await appOn(viaPort(t.url, port));
  try {
    const storeId = randomUUID();
    const requests = [
      { method: 'POST' as const, url: '/stores', headers: admin, payload: { id: storeId, name: 'S' } },
      { method: 'GET' as const, url: '/admin/dead-letters', headers: admin },
      // A device token is looked up in the database before the route runs.
      {
        method: 'POST' as const,
        url: '/sync/push',
        headers: { authorization: `Bearer vxd_${randomBytes(32).toString('base64url')}` },
        payload: { store_id: storeId, device_id: randomUUID(), events: [] },
      },
    ];
    for (const r of requests) {
      const res = await app.inject(r);
      expect({ url: r.url, status: res.statusCode }).toEqual({ url: r.url, status: 503 });
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json().error).toEqual({
        code: 'DATABASE_UNAVAILABLE',
        message: 'the database is unreachable; retry later',
      });
    }
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(503);
    expect(health.json().checks.postgres).toMatch(/ECONNREFUSED/);
  } finally {
    await app.close();
  }
});

test('PostgreSQL going away mid-flight: 503 while it is gone, and the node recovers by itself when it is back', async () => {
  const target = new URL(t.url);
  const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(target.port || 5432) });
  await proxy.open();
  // /healthz probes on every request here, so it must follow the outage and the recovery at once
  // (its probe cache is covered by healthz.test.ts).
  const { app } = await appOn(viaPort(t.url, proxy.port), { HEALTHZ_PROBE_CACHE_MS: '0' });
  try {
    const device = await deviceOf(app);
    expect((await device.push()).statusCode).toBe(200);

    await proxy.close();
    for (let i = 0; i < 3; i++) {
      const res = await device.push();
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('DATABASE_UNAVAILABLE');
      expect(res.headers['retry-after']).toBe('5');
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);

    await proxy.open();
    const back = await device.push();
    expect(back.statusCode).toBe(200);
    expect(back.json().accepted).toHaveLength(1);
    const pulled = await app.inject({
      method: 'GET',
      url: `/sync/pull?store_id=${device.storeId}`,
      headers: device.headers,
    });
    expect(pulled.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  } finally {
    await proxy.close();
    await app.close();
  }
});
