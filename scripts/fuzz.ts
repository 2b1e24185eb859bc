/**
 * Fuzzes the HTTP API from its own OpenAPI document (/docs/json) with schemathesis.
 *
 *   tsx scripts/fuzz.ts [--profile short|full] [--seed N] [--keep]     (npm run test:fuzz: full)
 *
 * Two real nodes (child processes, each on a fresh database and its own Temporal namespace, peers of
 * each other) so reconcile and relay routes reach a real peer. A store is declared on the first, a
 * device registered and a few events of every family pushed, so reads answer with real rows; an ERP
 * agent is registered (AGENT_SECRET) with the usual mappings. Then one schemathesis run per
 * credential (device, peer, agent, admin), each over the operations its role may call (`x-auth` of
 * the document; what a role may not call is the auth matrix test's job), with the checks
 * not_a_server_error, status_code_conformance and response_schema_conformance.
 *
 *   --roles agent,peer     only these runs: a quick look at some roles (the full profile's floor of
 *                          1,000 cases holds for a run of every role only)
 *   --max-examples N       the profile's examples per operation, changed (with --roles: a tiny try)
 *
 * Prints the cases and the responses by status class per run; exits 1 on any failure, and the full
 * profile also when fewer than 1,000 cases ran. The short profile runs inside `npm test`
 * (test/integration/api/fuzz.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestNetwork, type TestNode } from '../test/support/nodes';
import { DeviceSim } from '../test/support/events';
import { BASE_MAPPINGS } from '../test/support/erp-agent';

const ROOT = path.resolve(__dirname, '..');

export type Role = 'admin' | 'device' | 'peer' | 'agent';

/** Every run, in order. Admin last: its run revokes and rotates devices and re-registers agents. */
export const ROLES: readonly Role[] = ['device', 'peer', 'agent', 'admin'];

/** AGENT_SECRET and API_SECRET of the fuzzed node (a throw-away node: these are no secrets). */
const AGENT_SECRET = `fuzz-agent-secret-${randomUUID()}`;
const API_SECRET = `fuzz-api-secret-${randomUUID()}`;

export interface Profile {
  /** schemathesis --max-examples: generated cases per operation and phase, per run. */
  maxExamples: number;
  phases: string;
  /** Fewer cases than this over all runs fail the run: a fuzz that barely ran proves nothing. */
  minCases: number;
}

/**
 * short: what `npm test` can afford (about 100-200 requests in all). full: over 1,000 cases.
 * The coverage phase adds its own boundary and negative cases per operation on top of the examples.
 */
export const PROFILES: Record<'short' | 'full', Profile> = {
  short: { maxExamples: 6, phases: 'fuzzing', minCases: 100 },
  full: { maxExamples: 100, phases: 'coverage,fuzzing', minCases: 1000 },
};

export const CHECKS = 'not_a_server_error,status_code_conformance,response_schema_conformance';

export interface RunFigures {
  role: Role;
  operations: number;
  cases: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  exitCode: number;
  seconds: number;
  /** schemathesis' own report of the failures (empty when it passed). */
  failures: string;
}

export interface FuzzReport {
  seed: number;
  runs: RunFigures[];
  cases: number;
  byClass: Record<string, number>;
  ok: boolean;
  /** Why the run failed, when it did. */
  problems: string[];
}

type Log = (line: string) => void;

/** Installs (once) the pinned schemathesis; returns the python of its venv. */
export function ensureSchemathesis(): string {
  const res = spawnSync('bash', [path.join(ROOT, 'scripts/ensure-schemathesis.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) throw new Error('scripts/ensure-schemathesis.sh failed');
  return res.stdout.trim().split('\n').pop()!;
}

interface Operation {
  'x-auth'?: Role[];
  [key: string]: unknown;
}
type OpenApi = { paths: Record<string, Record<string, Operation>>; [key: string]: unknown };

/** The document restricted to what `role` may call (public operations go with the admin run). */
export function documentFor(doc: OpenApi, role: Role): { doc: OpenApi; operations: number } {
  let operations = 0;
  const paths: OpenApi['paths'] = {};
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const roles = op['x-auth'];
      if (roles ? roles.includes(role) : role === 'admin') {
        (paths[p] ??= {})[method] = op;
        operations += 1;
      }
    }
  }
  return { doc: { ...doc, paths }, operations };
}

/** A store with a device and a few events of each family, so reads have rows to serialise. */
async function seedNode(a: TestNode, b: TestNode) {
  const storeId = randomUUID();
  const put = async (url: string, body: unknown, headers = a.admin, status = [200, 201]) => {
    const res = await a.request('POST', url, body, headers);
    if (!status.includes(res.status)) throw new Error(`seed: ${url} answered ${res.status}`);
    return res.body as Record<string, unknown>;
  };
  await put('/stores', { id: storeId, name: 'Fuzz store' });
  const device = (await put(`/stores/${storeId}/devices`, { name: 'POS fuzz' })) as {
    device_id: string;
    token: string;
  };
  const auth = { authorization: `Bearer ${device.token}` };
  const sim = new DeviceSim(storeId, device.device_id);
  const other = new DeviceSim(storeId, randomUUID());
  const [product, customer, sale, debt, session] = [1, 2, 3, 4, 5].map(() => randomUUID());
  const events = [
    sim.event('ProductCreated', { product_id: product!, name: 'Arroz 1 kg', price: 4.5 }),
    sim.event('CustomerCreated', { customer_id: customer!, name: 'Ana' }),
    sim.event('CashSessionOpened', { session_id: session!, opening_amount: 100 }),
    sim.event('StockReceived', { product_id: product!, qty: 40 }),
    sim.event('SaleCreated', {
      sale_id: sale!,
      items: [{ product_id: product!, qty: 2, unit_price: 4.5 }],
      total: 9,
      customer_id: customer!,
      session_id: session!,
    }),
    sim.event('DebtCreated', { debt_id: debt!, customer_id: customer!, amount: 9 }),
    sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debt!, amount: 4 }),
    sim.event('CashLedgerEntryCreated', {
      entry_id: randomUUID(),
      session_id: session!,
      kind: 'in',
      amount: 9,
    }),
  ];
  await put('/sync/push', { store_id: storeId, device_id: device.device_id, events }, auth, [200]);
  // Two writes that saw neither each other: the conflict audit gets a row.
  const concurrent = other.event('ProductUpdated', { product_id: product!, price: 5 });
  await put(
    '/sync/push',
    { store_id: storeId, device_id: other.deviceId, events: [concurrent] },
    a.admin,
    [200],
  );
  await put(
    '/sync/push',
    {
      store_id: storeId,
      device_id: device.device_id,
      events: [sim.event('ProductUpdated', { product_id: product!, price: 4.9 })],
    },
    auth,
    [200],
  );
  // A dead letter to list, retry and resolve (the peer takes the event, so a retry resolves it).
  const row = await a.db
    .insertInto('relay_dead_letters')
    .values({
      peer_id: b.id,
      event_id: events[0]!.event_id,
      store_id: storeId,
      node_seq: '1',
      type: events[0]!.type,
      error_code: 'FUZZ_SEED',
      error_message: 'seeded by scripts/fuzz.ts',
      attempts: 1,
      resolved_at: null,
      resolution: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // An ERP agent with its own token and the usual mappings, so its pushes reach the upserts.
  const vendorId = `fuzz-vendor-${randomUUID().slice(0, 8)}`;
  const agentToken = `fuzz-agent-token-${randomUUID()}`;
  await put(
    '/api/agents/register',
    { vendorId, agentUrl: 'http://127.0.0.1:9', authToken: agentToken, version: '1.0.0' },
    { authorization: `Bearer ${AGENT_SECRET}` },
    [201],
  );
  await put('/api/admin/mappings/seed', { mappings: BASE_MAPPINGS(vendorId) }, a.admin, [200]);
  return {
    storeId,
    device,
    deadLetterId: String(row.id),
    productId: product!,
    debtId: debt!,
    agent: { vendorId, token: agentToken },
  };
}

/** The schemathesis process of the current run, stopped when this process is interrupted. */
let current: ChildProcess | null = null;
let interrupted = false;

function runSchemathesis(
  python: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString();
    };
    current = child;
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('exit', (code) => {
      current = null;
      resolve({ code: code ?? 1, output });
    });
  });
}

const classOf = (status: number) => `${Math.floor(status / 100)}xx`;

export async function runFuzz(opts: {
  profile: Profile;
  seed?: number;
  /** Only these runs (default: every role, the only kind of run held to `minCases`). */
  roles?: readonly Role[];
  /** Keep the schemas, responses and schemathesis output even when the run passes. */
  keep?: boolean;
  log?: Log;
}): Promise<FuzzReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const roles = opts.roles ?? ROLES;
  const python = ensureSchemathesis();
  const dir = path.join(ROOT, '.data', 'fuzz', `${Date.now()}-${seed}`);
  mkdirSync(dir, { recursive: true });

  const nodes = await createTestNetwork(['fuzz', 'peer'], {
    // Thousands of requests inside a minute: the limiters are not what is under test.
    env: {
      RATE_LIMIT_MAX: '1000000',
      AUTH_FAIL_MAX: '1000000',
      ERP_RATE_LIMIT_SYNC: '1000000',
      ERP_RATE_LIMIT_BATCH: '1000000',
      ERP_RATE_LIMIT_HEARTBEAT: '1000000',
      ERP_RATE_LIMIT_REGISTER: '1000000',
      ERP_RATE_LIMIT_ADMIN: '1000000',
      AGENT_SECRET,
      API_SECRET,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    },
  });
  const a = nodes.fuzz!;
  const b = nodes.peer!;
  const runs: RunFigures[] = [];
  try {
    await Promise.all([a.start(), b.start()]);
    const seeded = await seedNode(a, b);
    const docRes = await fetch(`${a.url}/docs/json`);
    if (!docRes.ok) throw new Error(`/docs/json answered ${docRes.status}`);
    const doc = (await docRes.json()) as OpenApi;
    const peerToken = (JSON.parse(a.env.PEERS!) as { id: string; token: string }[]).find(
      (p) => p.id === b.id,
    )!.token;
    const tokens: Record<Role, string> = {
      admin: a.admin.authorization.slice('Bearer '.length),
      device: seeded.device.token,
      peer: peerToken,
      agent: seeded.agent.token,
    };

    for (const role of ROLES.filter((r) => roles.includes(r))) {
      if (interrupted) break;
      const { doc: restricted, operations } = documentFor(doc, role);
      const schemaFile = path.join(dir, `${role}.json`);
      const responses = path.join(dir, `${role}.ndjson`);
      writeFileSync(schemaFile, JSON.stringify(restricted));
      writeFileSync(responses, '');
      log(`fuzz: ${role}: ${operations} operations, seed ${seed}`);
      const started = Date.now();
      const { code, output } = await runSchemathesis(
        python,
        [
          '-m',
          'schemathesis.cli',
          '--config-file',
          path.join(ROOT, 'scripts/schemathesis.toml'),
          'run',
          schemaFile,
          '--url',
          a.url,
          '--header',
          `Authorization: Bearer ${tokens[role]}`,
          // The ERP admin routes also take X-API-Key, which schemathesis would otherwise make up
          // (and a wrong key is a 401 whatever the bearer).
          ...(role === 'admin' ? ['--header', `X-API-Key: ${API_SECRET}`] : []),
          '--checks',
          CHECKS,
          '--phases',
          opts.profile.phases,
          '--max-examples',
          String(opts.profile.maxExamples),
          '--seed',
          String(seed),
          '--generation-database',
          'none',
          '--request-timeout',
          '60',
          '--workers',
          '1',
          '--no-color',
        ],
        {
          SCHEMATHESIS_HOOKS: 'fuzz_hooks',
          PYTHONPATH: path.join(ROOT, 'scripts'),
          FUZZ_STORE_ID: seeded.storeId,
          FUZZ_DEVICE_ID: role === 'device' ? seeded.device.device_id : '',
          FUZZ_VENDOR_ID: role === 'agent' ? seeded.agent.vendorId : '',
          FUZZ_PEER_ID: b.id,
          FUZZ_DEAD_LETTER_ID: seeded.deadLetterId,
          FUZZ_PRODUCT_ID: seeded.productId,
          FUZZ_DEBT_ID: seeded.debtId,
          FUZZ_SALES_DAY: '2026-11-20',
          FUZZ_LOG: responses,
          FUZZ_SEED: String(seed),
        },
      );
      writeFileSync(path.join(dir, `${role}.out.txt`), output);
      const lines = readFileSync(responses, 'utf8').split('\n').filter(Boolean);
      const byClass: Record<string, number> = {};
      const byStatus: Record<string, number> = {};
      for (const line of lines) {
        const { status } = JSON.parse(line) as { status: number };
        byClass[classOf(status)] = (byClass[classOf(status)] ?? 0) + 1;
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      }
      const failures = code === 0 ? '' : failureSection(output);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      runs.push({
        role,
        operations,
        cases: lines.length,
        byClass,
        byStatus,
        exitCode: code,
        seconds,
        failures,
      });
      log(
        `fuzz: ${role}: ${lines.length} cases in ${seconds} s, ${formatCounts(byClass)} (${formatCounts(byStatus)})` +
          (code === 0 ? '' : `, schemathesis exit ${code}:\n${failures}`),
      );
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }

  const byClass: Record<string, number> = {};
  for (const run of runs) {
    for (const [k, v] of Object.entries(run.byClass)) byClass[k] = (byClass[k] ?? 0) + v;
  }
  const cases = runs.reduce((n, r) => n + r.cases, 0);
  const problems: string[] = [];
  if (runs.length !== roles.length) problems.push(`${runs.length} of ${roles.length} runs finished`);
  for (const r of runs) if (r.exitCode !== 0) problems.push(`${r.role}: schemathesis exit ${r.exitCode}`);
  if (byClass['5xx']) problems.push(`${byClass['5xx']} responses 5xx`);
  // A partial run (--roles) is a look at one role, not the profile: its case count is not held to it.
  if (roles.length === ROLES.length && cases < opts.profile.minCases) {
    problems.push(`${cases} cases ran, fewer than the profile's ${opts.profile.minCases}`);
  }
  const ok = problems.length === 0;
  log(
    `fuzz: ${cases} cases in all, ${formatCounts(byClass)}; ${ok ? 'no failures' : `FAILED: ${problems.join('; ')}`}`,
  );
  if (!ok || opts.keep)
    log(`fuzz: schemas, responses and schemathesis output in ${path.relative(ROOT, dir)}`);
  if (ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
  return { seed, runs, cases, byClass, ok, problems };
}

function formatCounts(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none'
  );
}

/** schemathesis' failure details: from its FAILURES header on, or the whole output if it has none. */
function failureSection(output: string): string {
  const at = output.search(/^=+ FAILURES =+$/m);
  return (at >= 0 ? output.slice(at) : output).trim();
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const profileName = (flag('--profile') ?? 'full') as keyof typeof PROFILES;
  const profile = PROFILES[profileName];
  if (!profile) throw new Error(`--profile: one of ${Object.keys(PROFILES).join(', ')}`);
  const seedArg = flag('--seed') ?? process.env.FUZZ_SEED;
  const rolesArg = flag('--roles')?.split(',');
  const unknown = rolesArg?.filter((r) => !(ROLES as readonly string[]).includes(r)) ?? [];
  if (unknown.length > 0) throw new Error(`--roles: ${unknown.join(', ')}: one of ${ROLES.join(', ')}`);
  const examples = flag('--max-examples');
  // Ctrl-C stops schemathesis and lets runFuzz stop the nodes and drop their databases.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      current?.kill('SIGTERM');
    });
  }
  const { ensureServices } = await import('./services');
  const endpoints = await ensureServices();
  process.env.DATABASE_URL ??= endpoints.databaseUrl;
  process.env.TEMPORAL_ADDRESS ??= endpoints.temporalAddress;
  const report = await runFuzz({
    profile: examples === undefined ? profile : { ...profile, maxExamples: Number(examples) },
    seed: seedArg === undefined ? undefined : Number(seedArg),
    roles: rolesArg as Role[] | undefined,
    keep: args.includes('--keep'),
  });
  process.exit(report.ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}
