import { sql } from 'kysely';
import bcrypt from 'bcryptjs';
import { admin } from '../../support/app';
import {
  AGENT_SECRET,
  apiKey,
  createErpTestApp,
  newToken,
  newVendor,
  registerVendor,
  type ErpTestApp,
} from '../../support/erp';

// REQ-3 against the real API and PostgreSQL: registration (AGENT_SECRET, bcrypt, re-registration
// with the current token), heartbeats, status from the last heartbeat, admin management with
// X-API-Key or the admin bearer, and vendor isolation of agent tokens.

let app: ErpTestApp;
beforeAll(async () => {
  app = await createErpTestApp();
});
afterAll(() => app.close());

const register = (payload: Record<string, unknown>, secret = AGENT_SECRET) =>
  app.inject({
    method: 'POST',
    url: '/api/agents/register',
    headers: { authorization: `Bearer ${secret}` },
    payload,
  });

test('an agent registers with AGENT_SECRET; its token is stored as a bcrypt hash of 10 rounds', async () => {
  const vendorId = newVendor();
  const token = newToken();
  const res = await register({ vendorId, agentUrl: 'http://127.0.0.1:9/', authToken: token, version: '2.1' });
  expect(res.statusCode).toBe(201);
  expect(res.json()).toMatchObject({ vendorId, status: 'online', version: '2.1', isActive: true });
  const row = await app.t.db
    .selectFrom('erp_agents')
    .selectAll()
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  expect(row.auth_token_hash).not.toContain(token);
  expect(bcrypt.getRounds(row.auth_token_hash)).toBe(10);
  expect(await bcrypt.compare(token, row.auth_token_hash)).toBe(true);

  expect(
    (
      await register(
        { vendorId: newVendor(), agentUrl: 'http://x', authToken: newToken() },
        'wrong-secret-0123456789',
      )
    ).statusCode,
  ).toBe(401);
});

test('re-registering needs the current token; with it, the new token replaces the old one', async () => {
  const a = await registerVendor(app);
  const next = newToken();
  const without = await register({ vendorId: a.vendorId, agentUrl: 'http://127.0.0.1:10', authToken: next });
  expect(without.statusCode).toBe(401);
  const wrong = await register({
    vendorId: a.vendorId,
    agentUrl: 'http://127.0.0.1:10',
    authToken: next,
    currentToken: newToken(),
  });
  expect(wrong.statusCode).toBe(401);

  const ok = await register({
    vendorId: a.vendorId,
    agentUrl: 'http://127.0.0.1:10',
    authToken: next,
    currentToken: a.token,
  });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toMatchObject({ agentUrl: 'http://127.0.0.1:10' });
  const beat = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/api/agents/heartbeat',
      headers: { authorization: `Bearer ${token}` },
      payload: { vendorId: a.vendorId },
    });
  expect((await beat(a.token)).statusCode).toBe(401);
  expect((await beat(next)).statusCode).toBe(200);
});

test('status is online, then degraded after 60 s, offline after 300 s without a heartbeat; a heartbeat brings it back', async () => {
  const a = await registerVendor(app);
  const statusAfter = async (seconds: number) => {
    await sql`UPDATE erp_agents SET last_heartbeat_at = now() - make_interval(secs => ${seconds}) WHERE vendor_id = ${a.vendorId}`.execute(
      app.t.db,
    );
    return (
      await app.inject({ method: 'GET', url: `/api/admin/agents/${a.vendorId}`, headers: apiKey })
    ).json<{ status: string }>().status;
  };
  expect(await statusAfter(10)).toBe('online');
  expect(await statusAfter(61)).toBe('degraded');
  expect(await statusAfter(299)).toBe('degraded');
  expect(await statusAfter(301)).toBe('offline');
  const beat = await app.inject({
    method: 'POST',
    url: '/api/agents/heartbeat',
    headers: a.headers,
    payload: { vendorId: a.vendorId, queueDepth: 3 },
  });
  expect(beat.statusCode).toBe(200);
  expect(beat.json()).toMatchObject({ status: 'online' });
});

test('an agent token authorises only its own vendor', async () => {
  const a = await registerVendor(app);
  const b = await registerVendor(app);
  const res = await app.inject({
    method: 'POST',
    url: '/api/agents/heartbeat',
    headers: a.headers,
    payload: { vendorId: b.vendorId },
  });
  expect(res.statusCode).toBe(403);
  const push = await app.inject({
    method: 'POST',
    url: '/api/sync/items',
    headers: a.headers,
    payload: { vendorId: b.vendorId, items: [] },
  });
  expect(push.statusCode).toBe(403);
  // Neither the admin secret nor an agent token opens the other's routes.
  expect((await app.inject({ method: 'GET', url: '/api/admin/agents', headers: a.headers })).statusCode).toBe(
    401,
  );
  expect(
    (
      await app.inject({
        method: 'POST',
        url: '/api/agents/heartbeat',
        headers: admin,
        payload: { vendorId: a.vendorId },
      })
    ).statusCode,
  ).toBe(403);
});

test('admin calls accept X-API-Key (API_SECRET) or the admin bearer; a wrong key is 401', async () => {
  const a = await registerVendor(app);
  expect(
    (await app.inject({ method: 'GET', url: `/api/agents/${a.vendorId}`, headers: apiKey })).statusCode,
  ).toBe(200);
  expect(
    (await app.inject({ method: 'GET', url: `/api/agents/${a.vendorId}`, headers: admin })).statusCode,
  ).toBe(200);
  expect(
    (await app.inject({ method: 'GET', url: `/api/agents/${a.vendorId}`, headers: { 'x-api-key': 'nope' } }))
      .statusCode,
  ).toBe(401);
  expect((await app.inject({ method: 'GET', url: `/api/agents/${a.vendorId}` })).statusCode).toBe(401);
});

test("a vendor id over its 100 characters in the path is a 400 naming it, not the router's 414", async () => {
  for (const url of [`/api/agents/${'0'.repeat(101)}`, `/api/admin/metrics/${'v'.repeat(101)}`]) {
    const res = await app.inject({ method: 'GET', url, headers: apiKey });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toContain('vendorId');
  }
});

test('admin list is paginated (max 100), update and deregister are audited', async () => {
  const a = await registerVendor(app);
  const list = await app.inject({
    method: 'GET',
    url: '/api/admin/agents?page=1&limit=500',
    headers: apiKey,
  });
  expect(list.statusCode).toBe(200);
  const body = list.json<{
    data: unknown[];
    meta: { page: number; limit: number; total: number; totalPages: number };
  }>();
  expect(body.meta).toMatchObject({ page: 1, limit: 100 });
  expect(body.meta.total).toBeGreaterThanOrEqual(1);
  expect(body.meta.totalPages).toBe(Math.ceil(body.meta.total / 100));

  const put = await app.inject({
    method: 'PUT',
    url: `/api/admin/agents/${a.vendorId}`,
    headers: apiKey,
    payload: { agentUrl: 'http://127.0.0.1:11', config: { site: 'north' } },
  });
  expect(put.statusCode).toBe(200);
  expect(put.json()).toMatchObject({ agentUrl: 'http://127.0.0.1:11', config: { site: 'north' } });

  const del = await app.inject({ method: 'DELETE', url: `/api/agents/${a.vendorId}`, headers: apiKey });
  expect([del.statusCode, del.json()]).toEqual([200, expect.objectContaining({ vendorId: a.vendorId })]);
  expect(
    (await app.inject({ method: 'GET', url: `/api/agents/${a.vendorId}`, headers: apiKey })).statusCode,
  ).toBe(404);
  const trail = await app.t.db
    .selectFrom('erp_audit_log')
    .select('action')
    .where('target_id', '=', a.vendorId)
    .orderBy('id')
    .execute();
  expect(trail.map((t) => t.action)).toEqual(['agent.update', 'agent.deregister']);
  // The deregistered agent's token is refused at once.
  expect(
    (
      await app.inject({
        method: 'POST',
        url: '/api/agents/heartbeat',
        headers: a.headers,
        payload: { vendorId: a.vendorId },
      })
    ).statusCode,
  ).toBe(401);
});

test('registration is rate limited per address (the seed: 10 a minute)', async () => {
  const limited = await createErpTestApp({ ERP_RATE_LIMIT_REGISTER: '3' });
  try {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await limited.inject({
        method: 'POST',
        url: '/api/agents/register',
        headers: { authorization: `Bearer ${AGENT_SECRET}` },
        payload: { vendorId: newVendor(), agentUrl: 'http://127.0.0.1:9', authToken: newToken() },
      });
      codes.push(r.statusCode);
    }
    expect(codes).toEqual([201, 201, 201, 429, 429]);
  } finally {
    await limited.close();
  }
});
