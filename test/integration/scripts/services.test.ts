/**
 * The path behind the two commands (`npm start`, `npm test`), run from a clean clone below a mode-0700
 * folder: as root the `postgres` system user cannot enter it, so the cluster, its log and its Unix
 * socket must live outside the checkout, and every process must agree on where.
 *
 * The clone is of this checkout's HEAD plus its uncommitted changes (the scripts under test are the
 * ones in the working tree). It shares node_modules and the Temporal CLI instead of installing them
 * (scripts/check-two-commands.sh runs the real `npm start` / `npm test` with a full install), and runs
 * its own PostgreSQL and Temporal dev server on free ports, next to the ones of the suite.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { relocatedHome } from '../../../scripts/services';

const ROOT = path.resolve(__dirname, '../../..');
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function git(args: string[], opts: { cwd?: string; input?: Buffer } = {}): Buffer {
  const r = spawnSync('git', args, { cwd: opts.cwd ?? ROOT, input: opts.input, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** A clean checkout of the working tree: HEAD, then the uncommitted changes and untracked files. */
function cloneWorkingTree(dest: string): void {
  const head = git(['rev-parse', 'HEAD']).toString().trim();
  // --shared: the clone borrows this repository's objects (fast; HEAD may be on no branch).
  git(['clone', '--quiet', '--shared', '--no-checkout', ROOT, dest]);
  git(['checkout', '--quiet', '--detach', head], { cwd: dest });
  const diff = git(['diff', 'HEAD', '--binary']);
  if (diff.length) git(['apply', '--binary', '-'], { cwd: dest, input: diff });
  const untracked = git(['ls-files', '--others', '--exclude-standard', '-z']).toString().split('\0');
  for (const file of untracked.filter(Boolean)) {
    fs.mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(dest, file));
  }
}

function temporalCli(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  const recorded = path.join(ROOT, '.tools/temporal-path');
  if (fs.existsSync(recorded)) return fs.readFileSync(recorded, 'utf8').trim();
  throw new Error('no Temporal CLI: run `bash scripts/ensure-tools.sh` (npm test does) or set TEMPORAL_CLI');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Running, not a zombie: an init that does not reap orphans (a container's PID 1) keeps those. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('local services from a clean clone below a mode-0700 folder', () => {
  let parent: string;
  let clone: string;
  let env: NodeJS.ProcessEnv;
  let ports: { pg: number; temporal: number; ui: number; node: number };
  let node: ChildProcess | undefined;

  /** `node --import tsx scripts/services.ts <args>` in the clone, as `npm start` / `npm test` run it. */
  const services = (...args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/services.ts', ...args], {
        cwd: clone,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  const recordedPid = () => Number(fs.readFileSync(path.join(clone, '.data/temporal.pid'), 'utf8').trim());

  beforeAll(async () => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'velox-start-'));
    fs.chmodSync(parent, 0o700);
    clone = path.join(parent, 'clone');
    cloneWorkingTree(clone);
    fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(clone, 'node_modules'));
    ports = {
      pg: await freePort(),
      temporal: await freePort(),
      ui: await freePort(),
      node: await freePort(),
    };
    env = { ...process.env };
    // Each of these would make the clone use the suite's services or another node's settings.
    for (const key of [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_UI_URL',
      'TEMPORAL_NAMESPACE',
      'PEERS',
    ]) {
      delete env[key];
    }
    Object.assign(env, {
      PGPORT_LOCAL: String(ports.pg),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      TEMPORAL_CLI: temporalCli(),
      PG_FAST: '1',
    });
  });

  afterAll(async () => {
    node?.kill('SIGKILL');
    if (clone) await services('down');
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
    if (clone && isRoot) fs.rmSync(relocatedHome(clone), { recursive: true, force: true });
  });

  test('up serves PostgreSQL through a socket the client finds, and Temporal; the node starts; down stops both', async () => {
    const up = await services('up', '--print-env');
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const printed = Object.fromEntries(
      [...up.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]] as const),
    );
    const url = new URL(printed.DATABASE_URL!);
    // Root: the postgres user cannot enter the clone, so the socket (and the cluster) moved out of it.
    const socketDir = isRoot
      ? path.join(relocatedHome(clone), 'pg-socket')
      : path.join(clone, '.data/pg-socket');
    expect(url.searchParams.get('host')).toBe(socketDir);
    if (isRoot) {
      expect(fs.existsSync(path.join(relocatedHome(clone), 'pg/PG_VERSION'))).toBe(true);
      expect(fs.existsSync(path.join(clone, '.data/pg'))).toBe(false);
    }
    // Any other process computes the same URL without asking `up`.
    const shown = await services('env');
    expect(shown.stdout).toContain(`DATABASE_URL=${printed.DATABASE_URL}\n`);

    const client = new pg.Client({ connectionString: printed.DATABASE_URL });
    await client.connect();
    try {
      // inet_server_addr() is NULL on a Unix-socket connection.
      const { rows } = await client.query('SELECT inet_server_addr() AS addr, current_database() AS db');
      expect(rows).toEqual([{ addr: null, db: 'velox' }]);
    } finally {
      await client.end();
    }

    expect(printed.TEMPORAL_ADDRESS).toBe(`127.0.0.1:${ports.temporal}`);
    const connection = await Connection.connect({ address: printed.TEMPORAL_ADDRESS! });
    try {
      const ns = await connection.workflowService.describeNamespace({ namespace: 'velox-test-a' });
      expect(ns.namespaceInfo?.name).toBe('velox-test-a');
    } finally {
      await connection.close();
    }
    const temporalPid = recordedPid();

    // What `npm start` runs once the services are up.
    let output = '';
    node = spawn(process.execPath, ['--import', 'tsx', 'bin/node.ts'], {
      cwd: clone,
      env: {
        ...env,
        DATABASE_URL: printed.DATABASE_URL,
        TEMPORAL_ADDRESS: printed.TEMPORAL_ADDRESS,
        ADMIN_SECRET: randomBytes(24).toString('base64url'),
        NODE_ID: 'start-anywhere',
        PORT: String(ports.node),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    node.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    node.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const child = node;
    await waitFor(
      'the node from the clone answering /healthz 200',
      async () => {
        if (child.exitCode !== null) throw new Error(`the node exited (${child.exitCode}):\n${output}`);
        const res = await fetch(`http://127.0.0.1:${ports.node}/healthz`).catch(() => undefined);
        return res?.status === 200;
      },
      90_000,
    );
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    node = undefined;

    const down = await services('down');
    expect(down.stdout).toContain(`temporal: stopped (pid ${temporalPid})`);
    expect(down.stdout).toContain('postgres: stopped');
    expect(alive(temporalPid)).toBe(false);
    expect(await tcpOpen(ports.temporal)).toBe(false);
    expect(await tcpOpen(ports.pg)).toBe(false);
    expect(fs.existsSync(path.join(socketDir, `.s.PGSQL.${ports.pg}`))).toBe(false);
  }, 180_000);

  test('down stops the Temporal server of a start that failed, and never a process it did not start', async () => {
    // PostgreSQL's port answers, but not as PostgreSQL: `up` fails after it launched Temporal.
    // It reads and ignores what it gets (a socket never read would not see its client go, and close()
    // would wait for it forever).
    const squatter = net.createServer((socket) => socket.resume());
    await new Promise<void>((r) => squatter.listen(ports.pg, '127.0.0.1', r));
    let up: Run;
    try {
      up = await services('up', '--print-env');
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('answers but not as the local velox cluster');
    const temporalPid = recordedPid();
    expect(alive(temporalPid)).toBe(true);

    const down = await services('down');
    expect(down.stdout).toContain(`temporal: stopped (pid ${temporalPid})`);
    expect(alive(temporalPid)).toBe(false);
    expect(await tcpOpen(ports.temporal)).toBe(false);

    // A recorded pid that now belongs to some other process (pids get reused) is left alone.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(clone, '.data/temporal.pid'), `${stranger.pid}\n`);
      const again = await services('down');
      expect(again.stdout).toContain('temporal: not running');
      expect(alive(stranger.pid!)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
    }
  }, 120_000);
});
