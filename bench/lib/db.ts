/** PostgreSQL for the benchmarks: fresh databases, plain connections, and what else the server is doing. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDb, migrateToLatest } from '../../infra/db';

const ROOT = path.resolve(__dirname, '../..');

/** A connected client; a server-side disconnect surfaces on its next query, not as a crash. */
export async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', (err) => console.error(`postgres connection lost: ${err.message}`));
  await c.connect();
  return c;
}

/** The same server URL, another database. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One statement on its own connection to the server's URL. */
export async function onServer<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(serverUrl);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export const dropDatabase = (serverUrl: string, name: string) =>
  onServer(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database `<prefix>_<random>` on the server, migrated to the latest schema. */
export async function createBenchDatabase(serverUrl: string, prefix = 'velox_bench'): Promise<BenchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await onServer(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(serverUrl, name);
  const db = createDb(url, 2);
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    await dropDatabase(serverUrl, name);
    throw err;
  }
  await db.destroy();
  return { name, url, drop: () => dropDatabase(serverUrl, name).then(() => undefined) };
}

/** The commit measured, and whether the node's code differs from it in the working tree. */
export function codeVersion(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirs = ['api', 'domain', 'infra', 'actors', 'app', 'migrations'];
  const dirty = git('status', '--porcelain', '--', ...dirs)
    .split('\n')
    .filter(Boolean);
  return dirty.length === 0
    ? `${head} (clean)`
    : `${head} + ${dirty.length} uncommitted change(s) in ${dirs.join('/')}`;
}

/**
 * What else is running: CPU busy over one second (from /proc/stat), load average, and client
 * backends busy in other databases of the server. A busy machine makes every figure noise.
 */
export async function machineLoad(c: pg.Client, dbName: string): Promise<string> {
  const sample = () => {
    try {
      const cpu = fs
        .readFileSync('/proc/stat', 'utf8')
        .split('\n')[0]!
        .trim()
        .split(/\s+/)
        .slice(1)
        .map(Number);
      const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
      return { idle, total: cpu.reduce((s, v) => s + v, 0) };
    } catch {
      return null;
    }
  };
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const b = sample();
  const busy = a && b && b.total > a.total ? 100 * (1 - (b.idle - a.idle) / (b.total - a.total)) : NaN;
  const others = await c.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND state <> 'idle' AND datname IS DISTINCT FROM $1 AND pid <> pg_backend_pid()`,
    [dbName],
  );
  const n = Number(others.rows[0]!.n);
  const load = os.loadavg()[0]!.toFixed(2);
  const warn = busy > 15 || n > 0 ? '  WARNING: the machine is not idle; figures are unreliable' : '';
  return `cpu busy ${busy.toFixed(0)} % over 1 s, load ${load}, ${n} busy backends in other databases${warn}`;
}

/** The backends now connected to the database (the CPU meter's PostgreSQL group). */
export async function backendsOf(c: pg.Client, databases?: string[]): Promise<number[]> {
  const r = databases
    ? await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [databases])
    : await c.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
  return r.rows.map((x) => x.pid);
}

/**
 * Samples pg_stat_activity every 20 ms for the client backends of the connected database until
 * stopped: per (state, wait event, statement) the average number of backends, i.e. where they spend time.
 */
export function sampleWaits(url: string): { stop(): Promise<string> } {
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const done = (async () => {
    const c = await connect(url);
    try {
      while (running) {
        const r = await c.query<{ state: string; wait: string | null; query: string }>(
          `SELECT state, wait_event_type || ':' || wait_event AS wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
           FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        );
        samples++;
        for (const row of r.rows) {
          const key =
            row.state === 'active'
              ? `active  ${(row.wait ?? 'CPU').padEnd(28)} ${row.query.trim()}`
              : `${row.state.padEnd(7)} ${(row.wait ?? '').padEnd(28)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      const lines = [
        `pg_stat_activity, ${samples} samples of the node's backends (avg backends per sample):`,
      ];
      for (const [k, n] of [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
        lines.push(`${(n / samples).toFixed(2).padStart(6)}  ${k}`);
      }
      return lines.join('\n');
    },
  };
}
