import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client, Connection, ScheduleClient } from '@temporalio/client';
import Long from 'long';
import { ensureSearchAttributes } from '../../infra/temporal/search-attributes';
import { ADMIN_SECRET } from './app';
import { createTestDatabase, type TestDatabase } from './db';
import { temporalAddress } from './temporal';

const ROOT = path.resolve(__dirname, '../..');

// Whatever happens to the test process, its node processes die with it.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
const LOG_DIR = path.join(ROOT, '.data', 'test-logs');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A Temporal namespace of its own for one node of one test, with the node's search attributes. */
export async function createNamespace(prefix: string): Promise<string> {
  const namespace = `${prefix}-${randomBytes(4).toString('hex')}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(24 * 3600) },
    });
    await ensureSearchAttributes(connection, namespace);
  } finally {
    await connection.close();
  }
  return namespace;
}

/**
 * One node run as a real child process (`node --import tsx bin/node.ts`: API + worker), on its own database and
 * Temporal namespace, so a test can stop it, SIGKILL it mid-work and start it again.
 */
export class TestNode {
  process: ChildProcess | null = null;
  readonly url: string;
  readonly admin = { authorization: `Bearer ${ADMIN_SECRET}` };
  client: Client | null = null;
  private connection: Connection | null = null;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly namespace: string,
    readonly database: TestDatabase,
    readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get db() {
    return this.database.db;
  }

  async start(): Promise<void> {
    if (this.process) throw new Error(`node ${this.id} is already running`);
    mkdirSync(LOG_DIR, { recursive: true });
    const out = createWriteStream(path.join(LOG_DIR, `${this.namespace}.log`), { flags: 'a' });
    // node itself, not the tsx wrapper: a SIGKILL must kill the node, not just a parent process.
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/node.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.process = child;
    children.add(child);
    child.once('exit', () => children.delete(child));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`node ${this.id} exited (${code}); see ${LOG_DIR}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([this.waitHealthy(30_000), exited]);
    if (!this.client) {
      this.connection = await Connection.connect({ address: temporalAddress() });
      this.client = new Client({ connection: this.connection, namespace: this.namespace });
    }
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`node ${this.id} did not become healthy within ${timeoutMs} ms`);
  }

  /** Stops the process: SIGTERM drains gracefully, SIGKILL is a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    if (child.exitCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    // A graceful stop that hangs is a bug to see in the node's log, not a reason to hang the tests.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await done;
    clearTimeout(timer);
  }

  async request<T = unknown>(
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = this.admin,
  ) {
    const res = await fetch(`${this.url}${url}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.connection) {
      // The namespace outlives the test: its schedules would keep firing with no worker, loading the
      // shared dev server for the rest of the run. Delete them and end the actors.
      const client = new ScheduleClient({ connection: this.connection, namespace: this.namespace });
      for await (const schedule of client.list()) await client.getHandle(schedule.scheduleId).delete();
      for await (const wf of this.client!.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
        await this.client!.workflow.getHandle(wf.workflowId).terminate('test finished');
      }
      await this.connection.close();
    }
    await this.database.drop();
  }
}

export interface NetworkOptions {
  /** Extra environment for every node (intervals, relay settings…). */
  env?: Record<string, string>;
  /** The URL node `from` is given for peer `to` (a proxy in between, say); the node's own by default. */
  peerUrl?: (from: string, to: string, url: string) => Promise<string>;
}

/** Nodes that list each other as peers, each pair with its own shared token. */
export async function createTestNetwork(
  ids: string[],
  opts: NetworkOptions = {},
): Promise<Record<string, TestNode>> {
  const ports = await Promise.all(ids.map(() => freePort()));
  const token = (a: string, b: string) => `peer-token-${[a, b].sort().join('-')}-0123456789abcdef`;
  const nodes: Record<string, TestNode> = {};
  for (const [i, id] of ids.entries()) {
    const database = await createTestDatabase(`node_${id}`);
    const namespace = await createNamespace(`velox-test-${id}`);
    const peers = [];
    for (const other of ids.filter((o) => o !== id)) {
      const url = `http://127.0.0.1:${ports[ids.indexOf(other)]}`;
      peers.push({
        id: other,
        url: opts.peerUrl ? await opts.peerUrl(id, other, url) : url,
        token: token(id, other),
      });
    }
    nodes[id] = new TestNode(id, ports[i]!, namespace, database, {
      NODE_ID: id,
      PORT: String(ports[i]),
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: '10',
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: `velox-${id}`,
      ADMIN_SECRET,
      PEERS: JSON.stringify(peers),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      ...opts.env,
    });
  }
  return nodes;
}

/** Polls `probe` until `ok` holds (every 100 ms), or fails naming what it waited for and the last value. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}
