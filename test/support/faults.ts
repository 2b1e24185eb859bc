import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import {
  privatePlacement,
  startPrivatePostgres,
  stopPrivatePostgres,
  temporalCli,
  TEMPORAL_SEARCH_ATTRIBUTES,
  waitForNamespaces,
  type PrivatePostgres,
} from '../../scripts/services';
import { freePort } from './nodes';

// The fault kit of the chaos suites (test/chaos/): a network link the test cuts and heals, and a
// PostgreSQL and a Temporal server of the test's own that it restarts. (Killing a node, its API or
// its worker is TestNode's: test/support/nodes.ts.) The shared PostgreSQL and Temporal of the other
// tests are never touched.

const ROOT = path.resolve(__dirname, '../..');
/** Git-ignored (.data/): clusters and Temporal files of chaos runs, removed when the run ends. */
export const CHAOS_DIR = path.join(ROOT, '.data', 'chaos');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Whatever happens to the test process, the servers it started die with it.
const servers = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of servers) child.kill('SIGKILL');
});

/**
 * A TCP relay in front of one port: what a node is given as its peer's URL, so the test can cut the
 * link. While cut, every open connection is destroyed and every new one is closed at once (the
 * peer's client sees a reset, as behind a dropped route); heal lets connections through again.
 * Bytes are relayed untouched: HTTP keep-alive, timeouts and retries are the node's own.
 */
export class TcpLink {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  cut = false;

  constructor(private readonly targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.relay(client));
    this.port = await freePort();
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  private relay(client: Socket): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ port: this.targetPort, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      // A reset on one side ends both; errors are the point of this class, not failures of the test.
      s.on('error', () => undefined);
    }
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Cuts the link: connections in flight are dropped, new ones refused until heal(). */
  disconnect(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.disconnect();
    const server = this.server;
    this.server = null;
    if (server) await new Promise((r) => server.close(r));
  }
}

/** One link per direction between two nodes: `a → b` and `b → a`, cut and healed together. */
export class Links {
  readonly links = new Map<string, TcpLink>();

  /** For createTestNetwork's peerUrl: a relay from `from` to `to`'s URL. */
  peerUrl = async (from: string, to: string, url: string): Promise<string> => {
    const link = new TcpLink(Number(new URL(url).port));
    await link.start();
    this.links.set(`${from}->${to}`, link);
    return link.url;
  };

  get isCut(): boolean {
    return [...this.links.values()].some((l) => l.cut);
  }

  cut(): void {
    for (const l of this.links.values()) l.disconnect();
  }

  heal(): void {
    for (const l of this.links.values()) l.heal();
  }

  async close(): Promise<void> {
    for (const l of this.links.values()) await l.close();
  }
}

/** A PostgreSQL cluster of the test's own, in CHAOS_DIR, restarted fast or immediately. */
export class TestPostgres {
  private cluster: PrivatePostgres | null = null;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(name: string): Promise<TestPostgres> {
    const pg = new TestPostgres(path.join(CHAOS_DIR, `${name}-${process.pid}`), await freePort());
    rmSync(privatePlacement(pg.dir), { recursive: true, force: true });
    mkdirSync(CHAOS_DIR, { recursive: true, mode: 0o755 });
    pg.cluster = startPrivatePostgres(pg.dir, pg.port);
    return pg;
  }

  /** The server URL (database `postgres`), for createTestNetwork's databaseServer. */
  get url(): string {
    return this.cluster!.url;
  }

  stop(mode: 'fast' | 'immediate'): void {
    stopPrivatePostgres(this.cluster!, mode);
  }

  /** Starts it again on the same data and port (an immediate stop replays the WAL here). */
  restart(): void {
    this.cluster = startPrivatePostgres(this.dir, this.port);
  }

  async close(): Promise<void> {
    try {
      this.stop('immediate');
    } catch {
      // already stopped
    }
    // Where it really lives: the postgres user may not reach the checkout (privatePlacement).
    rmSync(privatePlacement(this.dir), { recursive: true, force: true });
  }
}

/** A Temporal dev server of the test's own (SQLite file in CHAOS_DIR), stopped and restarted with its data kept. */
export class TestTemporal {
  private child: ChildProcess | null = null;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(name: string): Promise<TestTemporal> {
    const t = new TestTemporal(path.join(CHAOS_DIR, `${name}-${process.pid}`), await freePort());
    rmSync(t.dir, { recursive: true, force: true });
    mkdirSync(t.dir, { recursive: true });
    await t.restart();
    return t;
  }

  /** Starts the server on the same port and SQLite file, and waits until it answers. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('Temporal is already running');
    const args = ['server', 'start-dev', '--db-filename', path.join(this.dir, 'temporal.db')];
    args.push('--ip', '127.0.0.1', '--port', String(this.port), '--headless', '--log-level', 'warn');
    for (const sa of TEMPORAL_SEARCH_ATTRIBUTES) args.push('--search-attribute', sa);
    const out = createWriteStream(path.join(this.dir, 'temporal.log'), { flags: 'a' });
    const child = spawn(temporalCli(), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.child = child;
    servers.add(child);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      servers.delete(child);
      exited = `exited with ${signal ?? code}`;
    });
    await waitForNamespaces(this.address, ['default'], 60_000, () => exited);
  }

  /** Stops the server (SIGTERM, as an operator's restart; SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
    // The port is free again only once the listener is gone.
    await sleep(200);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
