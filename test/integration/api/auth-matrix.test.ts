import { randomBytes, randomUUID } from 'node:crypto';
import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import type { RouteRole } from '../../../api/plugins/auth';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { AGENT_SECRET, API_SECRET, apiKey, newToken, newVendor } from '../../support/erp';

// Every route of the app × every kind of caller, built from the route table as Fastify registers
// it (onRoute), so a route added tomorrow is in the matrix without anyone listing it. What each cell
// must answer follows from the route's own `config.auth`: no token or a bogus one → 401, a role the
// route does not list → 403, a device naming another store → 403, an allowed caller → anything but
// 401/403 (a 400 or 404 for the made-up ids is fine), and no cell ever 5xx. The ERP bridge's callers
// are in it too: an agent's own token (vendor V's, and another vendor's naming V → 403), AGENT_SECRET
// (agent registration) and X-API-Key (the admin routes that take it); an agent token or AGENT_SECRET
// is no node credential, so a route that does not list its role refuses it as unknown (401).

type Caller =
  | 'none'
  | 'bogus'
  | 'other-store device'
  | 'device'
  | 'peer'
  | 'admin'
  | 'agent'
  | 'other-vendor agent'
  | 'agent-registration'
  | 'api-key';
const CALLERS: Caller[] = [
  'none',
  'bogus',
  'other-store device',
  'device',
  'peer',
  'admin',
  'agent',
  'other-vendor agent',
  'agent-registration',
  'api-key',
];
// The POS page's static files are public too (api/routes/pos.ts): its API calls carry the device token;
// so are the dashboard's (api/routes/dashboard.ts): its API calls carry the admin secret.
const PUBLIC_PATH = /^\/(healthz|metrics|docs|pos|dashboard)(\/|$)/;
// CORS preflight (@fastify/cors) carries no credentials by design.
const isPublic = (r: { method: string; url: string }) =>
  PUBLIC_PATH.test(r.url) || (r.method === 'OPTIONS' && r.url === '*');
const PEER_TOKEN = `peer-token-matrix-${randomBytes(8).toString('hex')}`;

interface Route {
  method: string;
  url: string;
  auth: RouteRole[] | undefined;
  /** The route also takes X-API-Key as the admin credential (config.apiKey). */
  apiKey: boolean;
  schema: { params?: unknown; querystring?: unknown; body?: unknown };
}

const routes: Route[] = [];
let app: TestApp;
const storeA = randomUUID();
const storeB = randomUUID();
let deviceA: Awaited<ReturnType<typeof storeWithDevice>>;
let deviceB: Awaited<ReturnType<typeof storeWithDevice>>;
const vendorV = newVendor();
const agentV = newToken();
const agentW = newToken();

beforeAll(async () => {
  app = await createTestApp(
    {
      PEERS: JSON.stringify([{ id: 'peer-x', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
      // Every route is tried with a bogus token: the failed-auth budget is tested in auth.test.ts.
      AUTH_FAIL_MAX: '100000',
      AGENT_SECRET,
      API_SECRET,
      // The ERP routes' own budgets (tested in test/integration/erp) would answer 429 before auth.
      ERP_RATE_LIMIT_ADMIN: '100000',
      ERP_RATE_LIMIT_SYNC: '100000',
      ERP_RATE_LIMIT_BATCH: '100000',
      ERP_RATE_LIMIT_HEARTBEAT: '100000',
      ERP_RATE_LIMIT_REGISTER: '100000',
    },
    {
      onRoute: (r: RouteOptions) => {
        for (const method of [r.method].flat()) {
          routes.push({
            method,
            url: r.url,
            auth: (r.config as { auth?: RouteRole[] } | undefined)?.auth,
            apiKey: (r.config as { apiKey?: boolean } | undefined)?.apiKey === true,
            schema: (r.schema ?? {}) as Route['schema'],
          });
        }
      },
    },
  );
  await app.ready();
  deviceA = await storeWithDevice(app, storeA);
  deviceB = await storeWithDevice(app, storeB);
  // Two registered agents: vendor V's, and another vendor's (which must not act for V).
  for (const [vendorId, token] of [
    [vendorV, agentV],
    [newVendor(), agentW],
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/agents/register',
      headers: { authorization: `Bearer ${AGENT_SECRET}` },
      payload: { vendorId, agentUrl: 'http://127.0.0.1:9', authToken: token },
    });
    expect(res.statusCode).toBe(201);
  }
});
afterAll(() => app.close());

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  minLength?: number;
};

const toJson = (schema: unknown): JsonSchema | null =>
  schema instanceof z.ZodType
    ? (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema)
    : null;

interface Ids {
  /** store A for either device (its own store, or the store it must not reach); else unknown. */
  storeId: string;
  deviceId: string;
  /** vendor V for either agent; else unknown. */
  vendorId: string;
}

/** A plausible value for one field; store and device ids come from the caller (see Ids). */
function valueFor(name: string, s: JsonSchema, ids: Ids): unknown {
  if (name === 'store_id') return ids.storeId;
  if (name === 'device_id') return ids.deviceId;
  if (name === 'vendorId') return ids.vendorId;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const alt = s.anyOf?.[0] ?? s.oneOf?.[0];
  if (alt) return valueFor(name, alt, ids);
  const type = [s.type].flat()[0];
  switch (type) {
    case 'integer':
    case 'number':
      return Math.max(1, s.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return minimalObject(s, ids);
    default:
      return s.format === 'uuid' || /_id$|^id$/.test(name) ? randomUUID() : 'x'.repeat(s.minLength ?? 1);
  }
}

function minimalObject(s: JsonSchema | null, ids: Ids): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of s?.required ?? []) out[name] = valueFor(name, s!.properties?.[name] ?? {}, ids);
  return out;
}

const STORE_PATH = /^\/stores\/:id(?=\/|$)/;

/** The request of one cell: path params filled, required query and body fields present. */
function requestFor(route: Route, ids: Ids) {
  const params = toJson(route.schema.params);
  const url = route.url
    // `/stores/:id/…` names the store like `:store_id` does.
    .replace(STORE_PATH, '/stores/:store_id')
    .replace(/:(\w+)/g, (_m, name: string) =>
      encodeURIComponent(String(valueFor(name, params?.properties?.[name] ?? {}, ids))),
    )
    .replace(/\*$/, 'index.html');
  const query = new URLSearchParams(
    Object.entries(minimalObject(toJson(route.schema.querystring), ids)).map(([k, v]) => [k, String(v)]),
  ).toString();
  const bodySchema = toJson(route.schema.body);
  return {
    url: query ? `${url}?${query}` : url,
    payload: bodySchema ? minimalObject(bodySchema, ids) : undefined,
  };
}

/** A route names a store when any part of its request carries store_id (devices are bound to one). */
const storeScoped = (route: Route) =>
  [route.schema.params, route.schema.querystring, route.schema.body].some(
    (s) => toJson(s)?.properties?.store_id !== undefined,
  ) ||
  route.url.includes(':store_id') ||
  STORE_PATH.test(route.url);

/** An agent route names a vendor when its body carries vendorId (an agent acts for its own only). */
const vendorScoped = (route: Route) => toJson(route.schema.body)?.properties?.vendorId !== undefined;

function headersOf(caller: Caller): Record<string, string> {
  switch (caller) {
    case 'none':
      return {};
    case 'bogus':
      // Shaped like a device token, so it goes all the way to the token lookup.
      return { authorization: `Bearer vxd_${randomBytes(32).toString('base64url')}` };
    case 'other-store device':
      return deviceB.headers;
    case 'device':
      return deviceA.headers;
    case 'peer':
      return { authorization: `Bearer ${PEER_TOKEN}` };
    case 'admin':
      return admin;
    case 'agent':
      return { authorization: `Bearer ${agentV}` };
    case 'other-vendor agent':
      return { authorization: `Bearer ${agentW}` };
    case 'agent-registration':
      return { authorization: `Bearer ${AGENT_SECRET}` };
    case 'api-key':
      return apiKey;
  }
}

/** What the cell must answer: an exact status, or "authorized" (neither 401 nor 403). */
function expected(route: Route, caller: Caller): 401 | 403 | 'authorized' {
  if (!route.auth) return 'authorized';
  if (caller === 'none' || caller === 'bogus') return 401;
  // X-API-Key is the admin credential where a route takes it, and ignored (no token) elsewhere.
  if (caller === 'api-key') return !route.apiKey ? 401 : route.auth.includes('admin') ? 'authorized' : 403;
  if (caller === 'agent-registration') return route.auth.includes('agent-registration') ? 'authorized' : 401;
  if (caller === 'agent' || caller === 'other-vendor agent') {
    if (!route.auth.includes('agent')) return 401;
    return caller === 'other-vendor agent' && vendorScoped(route) ? 403 : 'authorized';
  }
  const role: RouteRole = caller === 'other-store device' ? 'device' : caller;
  if (!route.auth.includes(role)) return 403;
  if (caller === 'other-store device' && storeScoped(route)) return 403;
  return 'authorized';
}

test('the route table is the one the matrix covers: every route but /healthz, /metrics, /docs, the POS page (/pos) and the dashboard (/dashboard) needs a token', () => {
  expect(routes.length).toBeGreaterThan(10);
  const unprotected = routes.filter((r) => !r.auth && !isPublic(r)).map((r) => `${r.method} ${r.url}`);
  expect(unprotected).toEqual([]);
  for (const r of routes.filter((route) => route.auth)) {
    expect([r, r.auth!.length > 0]).toEqual([r, true]);
  }
  for (const p of ['/healthz', '/metrics', '/docs/json', '/dashboard']) {
    expect(routes.some((r) => r.method === 'GET' && r.url === p && !r.auth)).toBe(true);
  }
});

test('the OpenAPI document declares the same roles and security as the routes', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
    paths: Record<string, Record<string, { security?: unknown[]; 'x-auth'?: RouteRole[] }>>;
  }>();
  const documented = routes.filter((r) => !isPublic(r) && r.method !== 'HEAD');
  for (const r of documented) {
    const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
    expect([`${r.method} ${r.url}`, op?.['x-auth'], (op?.security ?? []).length > 0]).toEqual([
      `${r.method} ${r.url}`,
      r.auth,
      true,
    ]);
  }
});

test('every route × every caller answers as its config.auth says, and never 5xx', async () => {
  const cells: string[] = [];
  const wrong: string[] = [];
  const counts: Record<string, number> = {};
  const statusOf = new Map<string, number>();
  for (const route of routes) {
    for (const caller of CALLERS) {
      const ids: Ids =
        caller === 'device' || caller === 'other-store device'
          ? {
              storeId: storeA,
              deviceId: caller === 'device' ? deviceA.deviceId : deviceB.deviceId,
              vendorId: newVendor(),
            }
          : {
              storeId: randomUUID(),
              deviceId: randomUUID(),
              vendorId: caller === 'agent' || caller === 'other-vendor agent' ? vendorV : newVendor(),
            };
      const { url, payload } = requestFor(route, ids);
      const res = await app.inject({
        method: route.method as 'GET',
        url,
        headers: headersOf(caller),
        ...(payload === undefined ? {} : { payload }),
      });
      const want = expected(route, caller);
      const got = res.statusCode;
      counts[`${Math.floor(got / 100)}xx`] = (counts[`${Math.floor(got / 100)}xx`] ?? 0) + 1;
      const ok = got < 500 && (want === 'authorized' ? got !== 401 && got !== 403 : got === want);
      statusOf.set(`${route.method} ${route.url} as ${caller}`, got);
      const cell = `${route.method} ${url} as ${caller}: ${got} (want ${want})`;
      cells.push(cell);
      if (!ok) wrong.push(`${cell} ${res.body.slice(0, 200)}`);
    }
  }
  console.log(
    `auth matrix: ${routes.length} routes × ${CALLERS.length} callers = ${cells.length} cells; ` +
      Object.entries(counts)
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(', '),
  );
  expect(wrong).toEqual([]);
  expect(cells).toHaveLength(routes.length * CALLERS.length);
  // The ERP callers' credentials are real: each gets through where its role is listed (AGENT_SECRET
  // registered both agents above).
  expect(
    ['agent', 'other-vendor agent'].map((c) => statusOf.get(`POST /api/agents/heartbeat as ${c}`)),
  ).toEqual([200, 403]);
  expect(statusOf.get('GET /api/admin/agents as api-key')).toBe(200);
});
