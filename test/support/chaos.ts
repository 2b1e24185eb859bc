import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { CHAOS_DIR, Links, TestPostgres, TestTemporal } from './faults';
import { createTestNetwork, type TestNode } from './nodes';
import { FISCAL_TABLES } from '../../infra/db/schema';
import { assertSameTables, CONVERGENT_TABLES } from './projections';
import type { TillDevice } from './traffic';

// What the chaos suites check after a fault (test/chaos/): the relays caught up with their circuits
// closed, every acknowledged event exactly once on both nodes, the same events and read models on
// both, nothing in the dead letters, health back to healthy. Also the set-up they share.

/** Relay settings for chaos runs: short waits, so a suite spends its time on faults, not on timers. */
export const CHAOS_NODE_ENV: Record<string, string> = {
  RELAY_POLL_INTERVAL_MS: '1000',
  RELAY_BATCH_SIZE: '100',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '500',
  RELAY_HTTP_TIMEOUT_MS: '5000',
  RELAY_OPEN_MS: '1000',
  // Every till and relay comes from 127.0.0.1: the per-address limit would throttle the test itself.
  RATE_LIMIT_MAX: '1000000',
  DATABASE_POOL_SIZE: '10',
};

/**
 * The two nodes of a chaos suite, on a PostgreSQL and a Temporal server of their own (the suite stops
 * and restarts them) and linked through `links` (which the suite cuts). API and worker are separate
 * processes, supervised: as in production, a process that dies on its own is started again (so one
 * crash does not fail every later test too), and each test then fails on it.
 */
export class ChaosNetwork {
  readonly links = new Links();
  postgres: TestPostgres | undefined;
  temporal: TestTemporal | undefined;
  a: TestNode | undefined;
  b: TestNode | undefined;

  async start(
    name: string,
  ): Promise<{ a: TestNode; b: TestNode; postgres: TestPostgres; temporal: TestTemporal }> {
    const [postgres, temporal] = await Promise.all([
      TestPostgres.start(`${name}-pg`),
      TestTemporal.start(`${name}-temporal`),
    ]);
    [this.postgres, this.temporal] = [postgres, temporal];
    const net = await createTestNetwork(['a', 'b'], {
      env: CHAOS_NODE_ENV,
      split: true,
      databaseServer: postgres.url,
      temporalAddress: temporal.address,
      peerUrl: this.links.peerUrl,
    });
    const [a, b] = [net.a!, net.b!];
    [this.a, this.b] = [a, b];
    a.supervise = b.supervise = true;
    await Promise.all([a.start(120_000), b.start(120_000)]);
    return { a, b, postgres, temporal };
  }

  /** Closes whatever started, and says which processes exited on their own. */
  async close(): Promise<void> {
    console.log(
      `processes that exited on their own: ${JSON.stringify({ a: this.a?.crashes, b: this.b?.crashes })}`,
    );
    await Promise.all([this.a?.close(), this.b?.close()]);
    await this.links.close();
    await this.temporal?.close();
    await this.postgres?.close();
  }
}

export interface PeerStatus {
  peer_id: string;
  running: boolean;
  paused: boolean | null;
  cursor: number | null;
  lag: { events: number | null };
  circuit: { state: string; last_error: string | null };
  dead_letters_open: number;
}

/** The node's relay to `peer` as GET /sync/federation/status reports it (null if the API is not answering). */
export async function relayStatus(node: TestNode, peer: TestNode): Promise<PeerStatus | null> {
  try {
    const res = await node.request<{ peers: PeerStatus[] }>('GET', '/sync/federation/status');
    if (res.status !== 200) return null;
    return res.body.peers.find((p) => p.peer_id === peer.id) ?? null;
  } catch {
    return null;
  }
}

export const caughtUp = (s: PeerStatus | null): boolean =>
  !!s && s.running && s.paused !== true && s.lag.events === 0 && s.circuit.state === 'CLOSED';

/** The stores' event ids on a node, each with how many rows it has (more than one would be a duplicate). */
export async function eventCounts(node: TestNode, stores: readonly string[]): Promise<Map<string, number>> {
  const r = await sql<{ event_id: string; n: string }>`
    SELECT event_id, count(*) AS n FROM events WHERE store_id IN (${sql.join(stores)})
    GROUP BY event_id`.execute(node.db);
  return new Map(r.rows.map((x) => [x.event_id, Number(x.n)]));
}

export interface LogCheck {
  /** Acknowledged events missing on a node (counted once per node that misses it). */
  lost: string[];
  /** Event ids held more than once on a node. */
  duplicated: string[];
  /** Events one node holds and the other does not. */
  onlyOnOne: string[];
}

/** Every acknowledged event on both nodes exactly once, and the same events on both. */
export async function checkLogs(
  nodes: readonly TestNode[],
  stores: readonly string[],
  acked: readonly string[],
): Promise<LogCheck> {
  const counts = await Promise.all(nodes.map((n) => eventCounts(n, stores)));
  const lost = counts.flatMap((c, i) =>
    acked.filter((id) => !c.has(id)).map((id) => `${nodes[i]!.id}:${id}`),
  );
  const duplicated = counts.flatMap((c, i) =>
    [...c].filter(([, n]) => n > 1).map(([id]) => `${nodes[i]!.id}:${id}`),
  );
  const all = new Set(counts.flatMap((c) => [...c.keys()]));
  const onlyOnOne = [...all].filter((id) => counts.some((c) => !c.has(id)));
  return { lost, duplicated, onlyOnOne };
}

/**
 * Waits until both relays report lag 0 with their circuits closed and both nodes hold every
 * acknowledged event; returns how long it took. Throws (with the last state) after `timeoutMs`.
 */
export async function waitConverged(
  a: TestNode,
  b: TestNode,
  stores: readonly string[],
  acked: readonly string[],
  timeoutMs = 180_000,
): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    const [sa, sb] = await Promise.all([relayStatus(a, b), relayStatus(b, a)]);
    if (caughtUp(sa) && caughtUp(sb)) {
      const logs = await checkLogs([a, b], stores, acked).catch((err: Error) => err.message);
      if (typeof logs !== 'string' && logs.lost.length === 0 && logs.onlyOnOne.length === 0) {
        return Date.now() - started;
      }
      last = logs;
    } else {
      last = { [a.id]: sa, [b.id]: sb };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not converged after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/**
 * Projection digests per store identical on both nodes, the fiscal read models and the anti-entropy
 * digests included (assertSameTables names the first table that differs, with its rows).
 */
export async function assertSameProjections(a: TestNode, b: TestNode, stores: readonly string[]) {
  const tables = [...CONVERGENT_TABLES, ...FISCAL_TABLES];
  for (const store of stores) await assertSameTables(a.db, b.db, [a.id, b.id], [store], tables);
}

/** Dead letters of the stores on a node, open or resolved: the chaos traffic is all valid, so any is a relay bug. */
export async function deadLetters(node: TestNode, stores: readonly string[]): Promise<unknown[]> {
  const r = await sql`
    SELECT event_id, type, error_code, error_message, status FROM relay_dead_letters
    WHERE store_id IN (${sql.join(stores)})`.execute(node.db);
  return r.rows;
}

export interface HealthReport {
  overallHealth: string;
  findings: { level: string; metric: string; message: string }[];
}

export async function storeHealth(node: TestNode, store: string): Promise<HealthReport> {
  const res = await node.request<HealthReport>('GET', `/sync/federation/health?store_id=${store}`);
  if (res.status !== 200) throw new Error(`health of ${node.id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A store declared on every node (same id), with `perNode` devices registered on each. */
export async function storeWithDevices(
  nodes: readonly TestNode[],
  perNode: number,
): Promise<{ storeId: string; devices: TillDevice[] }> {
  const storeId = randomUUID();
  for (const node of nodes) {
    const res = await node.request('POST', '/stores', { id: storeId, name: `Chaos ${storeId.slice(0, 4)}` });
    if (res.status !== 200 && res.status !== 201) throw new Error(`store on ${node.id}: ${res.status}`);
  }
  const devices: TillDevice[] = [];
  for (const node of nodes) {
    for (let i = 0; i < perNode; i++) {
      const res = await node.request<{ device_id: string; token: string }>(
        'POST',
        `/stores/${storeId}/devices`,
        { name: `Till ${i} on ${node.id}` },
      );
      if (res.status !== 201)
        throw new Error(`device on ${node.id}: ${res.status} ${JSON.stringify(res.body)}`);
      devices.push({ node, storeId, id: res.body.device_id, token: res.body.token });
    }
  }
  return { storeId, devices };
}

/** A fixed-width text table (printed by the suites, pasted into docs/reliability.md). */
export function formatTable(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(head),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/**
 * Appends a suite's figures to .data/chaos/<suite>.txt as each test ends (jest shows console output
 * only when the file finishes: a long full run that is stopped still leaves what it measured).
 */
export function recordFigures(suite: string, text: string): void {
  mkdirSync(CHAOS_DIR, { recursive: true });
  appendFileSync(path.join(CHAOS_DIR, `${suite}.txt`), `${new Date().toISOString()} ${text}\n`);
}
