/**
 * A node under test, run as a child process so the load generator and the node never share an event
 * loop. Two kinds:
 * - `startApiNode`: the node's HTTP API alone (bench/ingest-server.ts: the product's buildApp on the
 *   product's database pool), for ingest, where Temporal is not on the measured path;
 * - `createNodes`: whole nodes (`bin/node.ts`, API + worker, a Temporal namespace each, peers of each
 *   other), launched by test/support/nodes.ts exactly as the federation tests launch them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import type { NetworkOptions, TestNode } from '../../test/support/nodes';

const ROOT = path.resolve(__dirname, '../..');

export interface ApiNodeOptions {
  databaseUrl: string;
  adminSecret: string;
  poolSize: number;
  /** DIR: run with node --cpu-prof, the profile written there on a graceful stop. */
  cpuProfDir?: string;
  /** Time every statement the node sends (bench/lib/sql-trace.ts), summary on stderr at exit. */
  traceSql?: boolean;
  /** FILE: auto_explain ANALYZE of a sample of the node's statements, median plans to FILE. */
  explainFile?: string;
  explainRate?: number;
}

export interface ApiNode {
  child: ChildProcess;
  url: string;
  port: number;
  exited: Promise<number | null>;
  /**
   * Gracefully (stdin closes, the child drains and exits, writing its CPU profile and SQL trace), or
   * by force after a failed run (SIGKILL, then the backends of its stuck transactions are terminated
   * through `admin`, a connection to the same database, so they stop working while a baseline runs).
   */
  stop(force?: boolean, admin?: pg.Client): Promise<void>;
}

export async function startApiNode(o: ApiNodeOptions): Promise<ApiNode> {
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfDir)}`] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'bench/ingest-server.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: o.databaseUrl,
        BENCH_ADMIN_SECRET: o.adminSecret,
        BENCH_TRACE_SQL: o.traceSql ? '1' : '0',
        BENCH_EXPLAIN: o.explainFile ? path.resolve(o.explainFile) : '',
        BENCH_EXPLAIN_RATE: String(o.explainRate ?? 0.1),
        BENCH_POOL_SIZE: String(o.poolSize),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('API child did not start within 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`API child exited with ${code} before listening`));
    });
  });
  const stop = async (force = false, admin?: pg.Client) => {
    if (!force) {
      child.stdin?.end();
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), 15_000).unref(),
      );
      if ((await Promise.race([exited, timeout])) !== 'timeout') return;
    }
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await exited;
    // The caller's own connection (to the bench database) is the one spared.
    await admin?.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
  };
  return { child, url: `http://127.0.0.1:${port}`, port, exited, stop };
}

/**
 * Whole nodes that list each other as peers. Imported lazily: the launcher reads DATABASE_URL and
 * TEMPORAL_ADDRESS when loaded, so the caller sets them first.
 */
export async function createNodes(
  ids: string[],
  opts: NetworkOptions = {},
): Promise<Record<string, TestNode>> {
  const { createTestNetwork } = await import('../../test/support/nodes');
  return createTestNetwork(ids, opts);
}

export type { TestNode };
