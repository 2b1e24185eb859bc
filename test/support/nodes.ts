import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client, Connection, ScheduleClient } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
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

export function freePort(): Promise<number> {
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
export async function createNamespace(prefix: string, address = temporalAddress()): Promise<string> {
  const namespace = `${prefix}-${randomBytes(4).toString('hex')}`;
  const connection = await Connection.connect({ address });
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

/** A node's processes: one with both roles, or (split) an API and a worker, as in production. */
export type NodePart = 'node' | 'api' | 'worker';

const ENTRYPOINTS: Record<NodePart, string> = {
  node: 'bin/node.ts',
  api: 'bin/api.ts',
  worker: 'bin/worker.ts',
};

/**
 * One node run as real child processes (`node --import tsx bin/node.ts`: API + worker; or, split,
 * `bin/api.ts` and `bin/worker.ts` apart), on its own database and Temporal namespace, so a test can
 * stop it, SIGKILL it (or only its worker, or only its API) mid-work and start it again.
 */
export class TestNode {
  private readonly procs = new Map<NodePart, ChildProcess>();
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
    /** API and worker as two processes (bin/api.ts, bin/worker.ts) instead of one (bin/node.ts). */
    readonly split = false,
    readonly temporalServer = temporalAddress(),
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get db() {
    return this.database.db;
  }

  /** The process serving the API (the whole node unless split), or null when it is down. */
  get process(): ChildProcess | null {
    return this.procs.get(this.split ? 'api' : 'node') ?? null;
  }

  /** The parts this node runs as. */
  get parts(): NodePart[] {
    return this.split ? ['worker', 'api'] : ['node'];
  }

  /**
   * Whether a part that dies on its own is started again (after a second), as a process supervisor
   * (systemd, Kubernetes) does: a process started while PostgreSQL is down exits at its migrations.
   * Each such exit is recorded in `crashes`. Stops asked for with stop()/stopPart() are not crashes.
   */
  supervise = false;
  readonly crashes: { part: NodePart; code: number | null; signal: string | null; at: Date }[] = [];
  private closing = false;

  /**
   * Starts every part that is not running, and waits until /healthz is ok (PostgreSQL, Temporal, a
   * worker) and, when split, until the new worker process itself polls its task queue (the API's
   * check also counts a killed worker's poller for a while).
   */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.parts.every((p) => this.procs.has(p))) throw new Error(`node ${this.id} is already running`);
    const spawned = this.parts.filter((p) => !this.procs.has(p)).map((p) => ({ part: p, ...this.spawn(p) }));
    if (!this.client) {
      this.connection = await Connection.connect({ address: this.temporalServer });
      this.client = new Client({ connection: this.connection, namespace: this.namespace });
    }
    const deadline = Date.now() + timeoutMs;
    const ready = Promise.all([
      this.waitHealthy(timeoutMs),
      ...spawned.filter((s) => s.part === 'worker').map((s) => this.waitPolling(s.child, deadline)),
    ]);
    await Promise.race([ready, ...spawned.map((s) => s.exited)]);
  }

  /** Spawns one part; `exited` rejects if it exits (for racing against its readiness). */
  private spawn(part: NodePart): { child: ChildProcess; exited: Promise<never> } {
    mkdirSync(LOG_DIR, { recursive: true });
    const name = part === 'node' ? this.namespace : `${this.namespace}-${part}`;
    const out = createWriteStream(path.join(LOG_DIR, `${name}.log`), { flags: 'a' });
    // node itself, not the tsx wrapper: a SIGKILL must kill the node, not just a parent process.
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRYPOINTS[part]], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.procs.set(part, child);
    children.add(child);
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (this.procs.get(part) !== child) return; // stopped on purpose
      this.procs.delete(part);
      this.crashes.push({ part, code, signal, at: new Date() });
      if (this.supervise && !this.closing) {
        setTimeout(() => {
          if (!this.procs.has(part) && !this.closing) this.spawn(part).exited.catch(() => undefined);
        }, 1000);
      }
    });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`node ${this.id} (${part}) exited (${code}); see ${LOG_DIR}`)),
      ),
    );
    exited.catch(() => undefined);
    return { child, exited };
  }

  /** Until `child` (a worker process) polls the node's task queue: its identity is `<pid>@<host>`. */
  private async waitPolling(child: ChildProcess, deadline: number): Promise<void> {
    const identity = `${child.pid}@`;
    while (Date.now() < deadline) {
      try {
        const { pollers } = await this.client!.workflowService.describeTaskQueue({
          namespace: this.namespace,
          taskQueue: { name: this.env.TEMPORAL_TASK_QUEUE! },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        if ((pollers ?? []).some((p) => p.identity?.startsWith(identity))) return;
      } catch {
        // Temporal not answering yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the worker of node ${this.id} (pid ${child.pid}) does not poll its task queue`);
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

  /** Stops the process(es): SIGTERM drains gracefully, SIGKILL is a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    // The API first: it stops taking pushes before the worker that relays them goes.
    for (const part of [...this.parts].reverse()) await this.stopPart(part, signal);
  }

  /** Stops one part of a split node (or the whole process with 'node'). */
  async stopPart(part: NodePart, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.procs.get(part);
    if (!child) return;
    this.procs.delete(part);
    if (child.exitCode !== null || child.signalCode !== null) return;
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
    this.closing = true;
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
  /** Each node as an API process and a worker process (TestNode.split). */
  split?: boolean;
  /** The PostgreSQL server of the nodes' databases (a test's own cluster); DATABASE_URL's by default. */
  databaseServer?: string;
  /** The Temporal server of the nodes (a test's own dev server); TEMPORAL_ADDRESS by default. */
  temporalAddress?: string;
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
    const database = await createTestDatabase(`node_${id}`, opts.databaseServer);
    const temporalServer = opts.temporalAddress ?? temporalAddress();
    const namespace = await createNamespace(`velox-test-${id}`, temporalServer);
    const peers = [];
    for (const other of ids.filter((o) => o !== id)) {
      const url = `http://127.0.0.1:${ports[ids.indexOf(other)]}`;
      peers.push({
        id: other,
        url: opts.peerUrl ? await opts.peerUrl(id, other, url) : url,
        token: token(id, other),
      });
    }
    nodes[id] = new TestNode(
      id,
      ports[i]!,
      namespace,
      database,
      {
        NODE_ID: id,
        PORT: String(ports[i]),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        DATABASE_POOL_SIZE: '10',
        TEMPORAL_ADDRESS: temporalServer,
        TEMPORAL_NAMESPACE: namespace,
        TEMPORAL_TASK_QUEUE: `velox-${id}`,
        ADMIN_SECRET,
        PEERS: JSON.stringify(peers),
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
        // Split nodes run several worker-only processes on one host: no fixed metrics port for them.
        WORKER_METRICS_PORT: '0',
        ...opts.env,
      },
      opts.split ?? false,
      temporalServer,
    );
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
