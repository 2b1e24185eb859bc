/**
 * Replication benchmark (ARCHITECTURE.md §4 "Relay speed"; issue 3, deliverable 7): lag from a push
 * on node A to the row visible in node B's projection, at steady rates, against a baseline measured
 * in the same run.
 *
 *   npm run bench:replication [-- --rates=500,1000,2000 --seconds=15 --ceiling-seconds=10]
 *
 * Options (argv or env): --rates (BENCH_RATES, events/s, default 500,1000,2000), --seconds
 * (BENCH_SECONDS, 15 per phase), --tick-ms (BENCH_TICK_MS, 10: one push request per tick, of
 * rate × tick events, from the store's devices in turn), --devices (BENCH_DEVICES, 4), --poll-ms
 * (BENCH_POLL_MS, 5: how often B's database is asked what it committed since), --warmup-seconds
 * (BENCH_WARMUP_SECONDS, 3), --ceiling-seconds (BENCH_CEILING_SECONDS, 10; 0 skips), --ceiling-clients
 * (4), --ceiling-batch (100), --no-baseline, --no-profile, --no-wait-quiet (by default each phase
 * waits, up to 2 min, for a second in which other work uses under 10 % of the machine), --samples=FILE
 * (every sample as a JSON line). Node settings under test: --coalesce-ms
 * (RELAY_NUDGE_COALESCE_MS), --batch-size (RELAY_BATCH_SIZE), --node-log-level (warn); unset ones
 * keep the node's defaults. Services: DATABASE_URL (server for the fresh databases) and
 * TEMPORAL_ADDRESS, else the local ones (`scripts/services.ts up`, started if needed).
 *
 * Setup: two real nodes as child processes (`bin/node.ts`: API + worker each; test/support/nodes.ts),
 * fresh databases on one PostgreSQL, a Temporal namespace each on the one dev server, peers of each
 * other. One store declared on both; devices registered on A push with their own tokens. The
 * nodes' rate limit is lifted (RATE_LIMIT_MAX), everything else is the node as shipped.
 *
 * Phases, per rate:
 *   relay     open-loop pushes of SaleCreated events to A (a push every tick whatever the previous
 *             ones are doing, so a slow node cannot slow the offered load down); PeerRelay carries
 *             them to B.
 *   baseline  the same pushes with A's relay to B paused; as soon as A acknowledges a push the bench
 *             sends the same events to B itself, with the pair's peer token, as relay would: the
 *             floor of one extra hop (A's ingest, then B's ingest), with no actor in between.
 * Lag of a push = from the moment its request to A is sent to the first poll of B's database that
 * finds its last sale in `sales` (all of a push commit together on A, and reach B in node_seq order);
 * one sample per push request. The poll runs every --poll-ms on its own connection to B's database
 * and reads only what B committed since the previous poll (B's events after a node_seq cursor,
 * joined to `sales`), so watching costs the same however far behind B is (resolution: poll interval
 * plus one query). Between phases both relays drain to lag 0.
 * Ceiling: clients push batches to A as fast as A takes them for --ceiling-seconds, then the time B
 * needs to hold them all gives the relay's throughput.
 * Profile (relay phases): PeerRelay's history on A over the phase — nudges, batches and their size,
 * activity schedule-to-start and run time, the workflow's turnaround between batches.
 * Exits non-zero on errors (a refused or failed push, a sale that never reaches B); a goal MISS is
 * reported, not failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import pg from 'pg';
import { configSchema } from '../infra/config';
import { relayWorkflowId } from '../workflows/ids';
import { ensureServices } from '../scripts/services';
import type { TestNode } from '../test/support/nodes';
import { option, intList, percentile, procTicks } from './common';

const GOAL_RATE = 1000;
const GOAL_P95_MS = 500;
const EventType = temporal.api.enums.v1.EventType;

// ---------------------------------------------------------------------------------------------
// Options

const int = (name: string, env: string, fallback: number) => intList(name, env, [fallback])[0]!;
const flag = (name: string, env: string) => ['1', 'true'].includes(option(name, env) ?? '');

const opts = {
  rates: intList('rates', 'BENCH_RATES', [500, 1000, 2000]),
  seconds: int('seconds', 'BENCH_SECONDS', 15),
  tickMs: int('tick-ms', 'BENCH_TICK_MS', 10),
  devices: int('devices', 'BENCH_DEVICES', 4),
  pollMs: int('poll-ms', 'BENCH_POLL_MS', 5),
  warmupSeconds: int('warmup-seconds', 'BENCH_WARMUP_SECONDS', 3),
  ceilingSeconds: int('ceiling-seconds', 'BENCH_CEILING_SECONDS', 10),
  ceilingClients: int('ceiling-clients', 'BENCH_CEILING_CLIENTS', 4),
  ceilingBatch: int('ceiling-batch', 'BENCH_CEILING_BATCH', 100),
  baseline: !flag('no-baseline', 'BENCH_NO_BASELINE'),
  profile: !flag('no-profile', 'BENCH_NO_PROFILE'),
  waitQuiet: !flag('no-wait-quiet', 'BENCH_NO_WAIT_QUIET'),
  coalesceMs: option('coalesce-ms', 'RELAY_NUDGE_COALESCE_MS'),
  batchSize: option('batch-size', 'RELAY_BATCH_SIZE'),
  nodeLogLevel: option('node-log-level', 'BENCH_NODE_LOG_LEVEL') ?? 'warn',
  /** FILE: every sample as a JSON line (phase, seconds into it, lag ms), for plots and tail hunting. */
  samples: option('samples', 'BENCH_SAMPLES'),
};

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errors: string[] = [];

function fail(message: string): void {
  if (errors.length < 20) console.error(`ERROR: ${message}`);
  errors.push(message);
}

function summary(values: number[]) {
  const s = [...values].sort((x, y) => x - y);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
  };
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : '-');

/** A markdown table, columns right-aligned except the first. */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

/** CPU ticks (utime + stime, 1/100 s) per process. */
interface CpuGroups {
  a: number | undefined;
  b: number | undefined;
  /** PostgreSQL backends serving the two nodes' databases (and the bench's watcher). */
  pg: Set<number>;
}

function cpuShares(start: Map<number, { ticks: number; comm: string }>, seconds: number, g: CpuGroups) {
  const used = { bench: 0, a: 0, b: 0, pg: 0, pgOther: 0, temporal: 0, other: 0 };
  for (const [pid, e] of procTicks()) {
    const d = e.ticks - (start.get(pid)?.ticks ?? 0);
    if (d <= 0) continue;
    if (pid === process.pid) used.bench += d;
    else if (pid === g.a) used.a += d;
    else if (pid === g.b) used.b += d;
    else if (g.pg.has(pid)) used.pg += d;
    else if (e.comm.startsWith('postgres')) used.pgOther += d;
    else if (e.comm.startsWith('temporal')) used.temporal += d;
    else used.other += d;
  }
  const cores = os.cpus().length;
  const share = (t: number) => t / 100 / seconds / cores;
  return { used, share, cores };
}

/**
 * Who used the CPU during a phase (share of all cores): bench, node A, node B, the PostgreSQL
 * backends of the two nodes, the rest of PostgreSQL (WAL writer, checkpointer, other databases),
 * the Temporal dev server, everything else. Others' work on a shared machine makes a phase unfair.
 */
function cpuMeter(groups: () => CpuGroups) {
  const start = procTicks();
  const t0 = performance.now();
  return (): string => {
    const seconds = (performance.now() - t0) / 1000;
    const { used, share, cores } = cpuShares(start, seconds, groups());
    const pct = (t: number) => `${Math.round(100 * share(t))}%`;
    const busy = share(used.other + used.pgOther) > 0.15;
    return (
      `cpu (share of ${cores} cores, ${seconds.toFixed(1)} s): bench ${pct(used.bench)}, node A ${pct(used.a)}, ` +
      `node B ${pct(used.b)}, their postgres ${pct(used.pg)}, other postgres ${pct(used.pgOther)}, ` +
      `temporal ${pct(used.temporal)}, other ${pct(used.other)}` +
      (busy ? '  WARNING: other work on the machine; figures unreliable' : '')
    );
  };
}

/** Waits (up to maxMs) for a second in which other work uses under 10 % of the machine. */
async function waitQuiet(groups: () => CpuGroups, maxMs = 120_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let warned = false;
  while (performance.now() < deadline) {
    const start = procTicks();
    await sleep(1000);
    const { used, share } = cpuShares(start, 1, groups());
    if (share(used.other + used.pgOther) < 0.1) return;
    if (!warned) console.log('  (waiting for other work on the machine to finish)');
    warned = true;
  }
  console.log('  (machine still busy; measuring anyway)');
}

// ---------------------------------------------------------------------------------------------
// The network

interface Device {
  id: string;
  token: string;
  seq: number;
}

let a: TestNode;
let b: TestNode;
let storeId = '';
let devices: Device[] = [];
let peerTokenAtoB = '';
const pgBackends = new Set<number>();
const cpuGroups = (): CpuGroups => ({ a: a.process?.pid, b: b.process?.pid, pg: pgBackends });

/** The PostgreSQL backends now serving the two nodes' databases. */
async function refreshBackends(watchDb: pg.Client): Promise<void> {
  const r = await watchDb.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [
    [a.database.name, b.database.name],
  ]);
  for (const { pid } of r.rows) pgBackends.add(pid);
}
const PRODUCTS = Array.from({ length: 50 }, () => randomUUID());

async function adminRequest<T>(node: TestNode, method: string, url: string, body?: unknown): Promise<T> {
  const res = await node.request<T>(method, url, body);
  if (res.status >= 300)
    throw new Error(`${method} ${url} on ${node.id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

interface PeerStatus {
  peer_id: string;
  paused: boolean | null;
  lag: { events: number | null };
  circuit: { state: string };
}

async function relayStatus(node: TestNode): Promise<PeerStatus> {
  const body = await adminRequest<{ peers: PeerStatus[] }>(node, 'GET', '/sync/federation/status');
  return body.peers[0]!;
}

/** Both relays caught up (lag 0), then a moment of calm. */
async function quiesce(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [sa, sb] = await Promise.all([relayStatus(a), relayStatus(b)]);
    if (sa.lag.events === 0 && sb.lag.events === 0 && !sa.paused && !sb.paused) break;
    if (Date.now() > deadline) throw new Error(`relays did not drain: ${JSON.stringify([sa, sb])}`);
    await sleep(100);
  }
  await sleep(500);
}

async function setRelayAtoB(paused: boolean): Promise<void> {
  await adminRequest(a, 'POST', `/sync/federation/relays/b/${paused ? 'pause' : 'resume'}`);
  if (!paused) return;
  // Paused and no batch in flight.
  for (;;) {
    const s = await relayStatus(a);
    const d = await a.client!.workflow.getHandle(relayWorkflowId('a', 'b')).describe();
    if (s.paused && (d.raw.pendingActivities ?? []).length === 0) return;
    await sleep(50);
  }
}

function saleEvents(device: Device, n: number): { events: unknown[]; lastSale: string } {
  const events: unknown[] = [];
  let lastSale = '';
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    device.seq += 1;
    lastSale = randomUUID();
    const price = 1 + (device.seq % 7);
    events.push({
      event_id: randomUUID(),
      store_id: storeId,
      device_id: device.id,
      seq: device.seq,
      type: 'SaleCreated',
      vector_clock: { [device.id]: device.seq },
      payload: {
        sale_id: lastSale,
        items: [{ product_id: PRODUCTS[device.seq % PRODUCTS.length], qty: 1, unit_price: price }],
        total: price,
      },
      created_at: now,
      actor_user_id: 'cashier-1',
    });
  }
  return { events, lastSale };
}

async function post(
  url: string,
  token: string,
  body: unknown,
): Promise<{ status: number; body: { accepted?: string[]; duplicates?: string[]; rejected?: unknown[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

async function pushToA(device: Device, events: unknown[]): Promise<boolean> {
  const res = await post(`${a.url}/sync/push`, device.token, {
    store_id: storeId,
    device_id: device.id,
    events,
  });
  if (res.status !== 200 || res.body.accepted?.length !== events.length) {
    fail(`push to A: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return false;
  }
  return true;
}

/** What relay would send: the events as A stored them (origin A), with the pair's token. */
async function pushToBAsPeer(events: unknown[]): Promise<void> {
  const wire = events.map((e) => ({ ...(e as object), origin_node: 'a' }));
  const res = await post(`${b.url}/sync/push`, peerTokenAtoB, {
    store_id: storeId,
    device_id: 'a',
    events: wire,
  });
  if (
    res.status !== 200 ||
    (res.body.accepted?.length ?? 0) + (res.body.duplicates?.length ?? 0) !== events.length
  ) {
    fail(`push to B: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// One steady phase

interface PhaseResult {
  rate: number;
  mode: 'relay' | 'baseline';
  sent: number;
  requests: number;
  achieved: number;
  lag: ReturnType<typeof summary>;
  ack: ReturnType<typeof summary>;
  cpu: string;
  window: { from: number; to: number };
  lost: number;
}

/**
 * Follows B's commits in order: `node_seq` is handed out at the end of each ingest transaction, so it
 * follows commit order and a cursor over it never steps over a late commit. Each poll returns the sale
 * rows (of SaleCreated events) B committed since the last one, joined to B's `sales` (the projection
 * is written in the same transaction as the event), so a poll costs what arrived, not what is pending.
 */
class SalesTail {
  private cursor = '0';
  constructor(private readonly client: pg.Client) {}

  async start(): Promise<void> {
    const r = await this.client.query<{ seq: string | null }>(
      'SELECT max(node_seq)::text AS seq FROM events',
    );
    this.cursor = r.rows[0]!.seq ?? '0';
  }

  async poll(): Promise<string[]> {
    const r = await this.client.query<{ seq: string; id: string }>(
      `SELECT e.node_seq::text AS seq, s.id::text AS id
       FROM events e JOIN sales s ON s.id = (e.payload->>'sale_id')::uuid
       WHERE e.node_seq > $1 AND e.store_id = $2 AND e.type = 'SaleCreated'
       ORDER BY e.node_seq LIMIT 20000`,
      [this.cursor, storeId],
    );
    if (r.rows.length > 0) this.cursor = r.rows[r.rows.length - 1]!.seq;
    return r.rows.map((x) => x.id);
  }
}

/**
 * Watches B for the tracked sales: every pollMs, what B committed since the last poll; a tracked
 * sale's lag is measured to the start of the query that first saw it.
 */
async function startWatcher(client: pg.Client) {
  const tail = new SalesTail(client);
  await tail.start();
  const pending = new Map<string, number>();
  const lags: number[] = [];
  const seen: { sentAt: number; lag: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running || pending.size > 0) {
      const t = performance.now();
      for (const id of await tail.poll()) {
        const sentAt = pending.get(id);
        if (sentAt === undefined) continue;
        lags.push(t - sentAt);
        seen.push({ sentAt, lag: t - sentAt });
        pending.delete(id);
      }
      const wait = opts.pollMs - (performance.now() - t);
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    track(id: string, sentAt: number) {
      pending.set(id, sentAt);
    },
    /** Stops once every tracked sale was seen, or gives up after timeoutMs (those are lost). */
    async finish(timeoutMs: number): Promise<{ lags: number[]; seen: typeof seen; lost: number }> {
      running = false;
      const lost = await Promise.race([loop.then(() => 0), sleep(timeoutMs).then(() => pending.size)]);
      if (lost > 0) pending.clear();
      await loop;
      return { lags, seen, lost };
    },
  };
}

async function steadyPhase(
  rate: number,
  mode: 'relay' | 'baseline',
  seconds: number,
  watchDb: pg.Client,
): Promise<PhaseResult> {
  const perPush = Math.max(1, Math.round((rate * opts.tickMs) / 1000));
  const tickMs = (perPush * 1000) / rate; // exact rate even when rate × tick is not a whole number
  const watcher = await startWatcher(watchDb);
  const acks: number[] = [];
  const ackSeries: { t: number; ack: number }[] = [];
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  let requests = 0;
  await refreshBackends(watchDb);
  if (opts.waitQuiet) await waitQuiet(cpuGroups);
  const meter = cpuMeter(cpuGroups);
  const fromWall = Date.now();
  const start = performance.now();
  // With --samples: who used the CPU, second by second (stalls are easier to place).
  const cpuSeries: string[] = [];
  let last = procTicks();
  const cpuTimer = opts.samples
    ? setInterval(() => {
        const { used, share } = cpuShares(last, 1, cpuGroups());
        last = procTicks();
        const pct = Object.fromEntries(Object.entries(used).map(([k, v]) => [k, Math.round(100 * share(v))]));
        cpuSeries.push(
          JSON.stringify({
            rate,
            mode: `${mode}-cpu`,
            t: Math.round(performance.now() - start) / 1000,
            ...pct,
          }),
        );
      }, 1000)
    : undefined;
  for (let i = 0; ; i++) {
    const due = start + i * tickMs;
    if (due - start >= seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const device = devices[i % devices.length]!;
    const { events, lastSale } = saleEvents(device, perPush);
    const sentAt = performance.now();
    watcher.track(lastSale, sentAt);
    sent += events.length;
    requests += 1;
    const p = (async () => {
      if (!(await pushToA(device, events))) return;
      acks.push(performance.now() - sentAt);
      ackSeries.push({ t: sentAt - start, ack: performance.now() - sentAt });
      if (mode === 'baseline') await pushToBAsPeer(events);
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  const elapsed = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  const { lags, seen, lost } = await watcher.finish(60_000);
  if (cpuTimer) clearInterval(cpuTimer);
  await refreshBackends(watchDb);
  const cpu = meter();
  if (lost > 0) fail(`${mode} at ${rate}/s: ${lost} tracked sales never reached B within 60 s`);
  if (opts.samples) {
    const lines = [
      ...seen.map((x) =>
        JSON.stringify({ rate, mode, t: Math.round(x.sentAt - start) / 1000, lag: Math.round(x.lag) }),
      ),
      ...ackSeries.map((x) =>
        JSON.stringify({ rate, mode, t: Math.round(x.t) / 1000, ack: Math.round(x.ack) }),
      ),
    ];
    fs.appendFileSync(opts.samples, lines.join('\n') + '\n');
  }
  return {
    rate,
    mode,
    sent,
    requests,
    achieved: sent / elapsed,
    lag: summary(lags),
    ack: summary(acks),
    cpu,
    window: { from: fromWall, to: Date.now() },
    lost,
  };
}

// ---------------------------------------------------------------------------------------------
// Relay profile from the actor's own history

interface Profile {
  nudges: number;
  batches: number;
  eventsPerBatch: { mean: number; max: number };
  scheduleToStart: ReturnType<typeof summary>;
  run: ReturnType<typeof summary>;
  turnaround: ReturnType<typeof summary>;
  wake: ReturnType<typeof summary>;
  historyEvents: number;
  runs: number;
  /** Per batch (wall ms): scheduled, started, completed, events read. */
  timeline: { scheduled: number; started: number | undefined; completed: number; read: number }[];
}

function payloadJson(p: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const data = p?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

async function relayProfile(client: Client, window: { from: number; to: number }): Promise<Profile> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let runs = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${relayWorkflowId('a', 'b')}'` })) {
    if (wf.closeTime && wf.closeTime.getTime() < window.from) continue;
    if (wf.startTime.getTime() > window.to) continue;
    runs += 1;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    events.push(...(history.events ?? []));
  }
  const time = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const inWindow = events
    .filter((e) => time(e) >= window.from && time(e) <= window.to)
    .sort((x, y) => time(x) - time(y));
  const scheduled = new Map<string, { at: number; id: number }>();
  const started = new Map<number, number>();
  const sched2start: number[] = [];
  const runTimes: number[] = [];
  const turnaround: number[] = [];
  const wake: number[] = [];
  const sizes: number[] = [];
  const timeline: Profile['timeline'] = [];
  let nudges = 0;
  let lastCompleted: number | null = null;
  let signalSinceCompleted: number | null = null;
  let batches = 0;
  for (const e of inWindow) {
    const t = time(e);
    const id = Number(e.eventId);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        if (e.workflowExecutionSignaledEventAttributes?.signalName === 'nudge') {
          nudges += 1;
          if (lastCompleted !== null && signalSinceCompleted === null) signalSinceCompleted = t;
        }
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        if (e.activityTaskScheduledEventAttributes?.activityType?.name !== 'relayBatch') break;
        scheduled.set(String(id), { at: t, id });
        if (lastCompleted !== null) {
          // Right after a batch (a nudge came during it, or it was full): the workflow's own turnaround.
          // After an idle wait: from the nudge that woke it.
          if (signalSinceCompleted === null || signalSinceCompleted <= lastCompleted)
            turnaround.push(t - lastCompleted);
          else wake.push(t - signalSinceCompleted);
        }
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const s = scheduled.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId));
        if (s) {
          started.set(s.id, t);
          sched2start.push(t - s.at);
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = e.activityTaskCompletedEventAttributes;
        const s = scheduled.get(String(attrs?.scheduledEventId));
        if (!s) break;
        const st = started.get(s.id);
        if (st !== undefined) runTimes.push(t - st);
        const r = payloadJson(attrs?.result) as { read?: number } | undefined;
        timeline.push({ scheduled: s.at, started: st, completed: t, read: r?.read ?? 0 });
        if (r?.read) {
          sizes.push(r.read);
          batches += 1;
        }
        lastCompleted = t;
        signalSinceCompleted = null;
        break;
      }
    }
  }
  return {
    nudges,
    batches,
    eventsPerBatch: {
      mean: sizes.length ? sizes.reduce((x, y) => x + y, 0) / sizes.length : 0,
      max: sizes.length ? Math.max(...sizes) : 0,
    },
    scheduleToStart: summary(sched2start),
    run: summary(runTimes),
    turnaround: summary(turnaround),
    wake: summary(wake),
    historyEvents: inWindow.length,
    runs,
    timeline,
  };
}

// ---------------------------------------------------------------------------------------------
// Ceiling: push as fast as A takes it, then see how long B needs

async function ceiling(watchDb: pg.Client): Promise<string> {
  const tail = new SalesTail(watchDb);
  await tail.start();
  let arrived = 0;
  await refreshBackends(watchDb);
  if (opts.waitQuiet) await waitQuiet(cpuGroups);
  const meter = cpuMeter(cpuGroups);
  const start = performance.now();
  const stopAt = start + opts.ceilingSeconds * 1000;
  let pushed = 0;
  const samples: { t: number; n: number }[] = [];
  let pushing = true;
  // B's arrivals, followed all along (every 20 ms, what committed since the last look).
  const follower = (async () => {
    while (pushing || arrived < pushed) {
      arrived += (await tail.poll()).length;
      samples.push({ t: (performance.now() - start) / 1000, n: arrived });
      if (!pushing && performance.now() - start > opts.ceilingSeconds * 1000 + 300_000) break;
      await sleep(20);
    }
  })();
  await Promise.all(
    Array.from({ length: opts.ceilingClients }, async (_, c) => {
      const device = devices[c % devices.length]!;
      while (performance.now() < stopAt) {
        const { events } = saleEvents(device, opts.ceilingBatch);
        if (!(await pushToA(device, events))) return;
        pushed += events.length;
      }
    }),
  );
  const pushSeconds = (performance.now() - start) / 1000;
  pushing = false;
  await follower;
  const atEnd = [...samples].reverse().find((x) => x.t <= pushSeconds)?.n ?? 0;
  const n = arrived;
  const total = samples.find((x) => x.n >= pushed)?.t ?? (performance.now() - start) / 1000;
  if (n < pushed) fail(`ceiling: B holds ${n} of ${pushed} sales after 300 s`);
  await refreshBackends(watchDb);
  const cpu = meter();
  // B's steady intake while A was being pushed: slope between 2 s and the end of the push.
  const mid = samples.filter((s) => s.t >= 2 && s.t <= pushSeconds);
  const slope =
    mid.length >= 2 ? (mid[mid.length - 1]!.n - mid[0]!.n) / (mid[mid.length - 1]!.t - mid[0]!.t) : NaN;
  const drain = total > pushSeconds ? (pushed - atEnd) / (total - pushSeconds) : NaN;
  return [
    `pushed ${pushed.toLocaleString('en-US')} events to A in ${pushSeconds.toFixed(1)} s ` +
      `(${opts.ceilingClients} clients × ${opts.ceilingBatch} per push, closed loop): ${Math.round(pushed / pushSeconds)} events/s into A`,
    `B held ${atEnd.toLocaleString('en-US')} of them when the pushes stopped; all ${(total - pushSeconds).toFixed(1)} s later`,
    `relay throughput: ${Math.round(pushed / total)} events/s overall (first push to last row on B); ` +
      `B's intake while A was loaded ${Math.round(slope)} events/s; drain after the pushes ${Math.round(drain)} events/s`,
    cpu,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const endpoints = await ensureServices({ log: () => undefined });
  process.env.DATABASE_URL ??= endpoints.databaseUrl;
  process.env.TEMPORAL_ADDRESS ??= endpoints.temporalAddress;
  // After the env is set: the launcher reads it.
  const { createTestNetwork } = await import('../test/support/nodes');

  const env: Record<string, string> = {
    LOG_LEVEL: opts.nodeLogLevel,
    RATE_LIMIT_MAX: '100000000',
    ...(opts.coalesceMs ? { RELAY_NUDGE_COALESCE_MS: opts.coalesceMs } : {}),
    ...(opts.batchSize ? { RELAY_BATCH_SIZE: opts.batchSize } : {}),
  };
  const net = await createTestNetwork(['a', 'b'], { env });
  [a, b] = [net.a!, net.b!];
  const watchDb = new pg.Client({ connectionString: b.database.url });
  try {
    await Promise.all([a.start(), b.start()]);
    await watchDb.connect();
    peerTokenAtoB = (JSON.parse(b.env.PEERS!) as { id: string; token: string }[]).find(
      (p) => p.id === 'a',
    )!.token;
    storeId = randomUUID();
    for (const node of [a, b])
      await adminRequest(node, 'POST', '/stores', { id: storeId, name: 'Bench store' });
    devices = [];
    for (let i = 0; i < opts.devices; i++) {
      const d = await adminRequest<{ device_id: string; token: string }>(
        a,
        'POST',
        `/stores/${storeId}/devices`,
        {
          name: `bench POS ${i}`,
        },
      );
      devices.push({ id: d.device_id, token: d.token, seq: 0 });
    }
    const settings = (
      await a
        .client!.workflow.getHandle(relayWorkflowId('a', 'b'))
        .query<{ settings: Record<string, unknown> }>('status')
    ).settings;
    console.log(
      `replication bench: ${os.cpus().length} cores, node ${process.version}; rates ${opts.rates.join(', ')} events/s, ` +
        `${opts.seconds} s each, a push every ~${opts.tickMs} ms from ${opts.devices} devices, B polled every ${opts.pollMs} ms`,
    );
    console.log(
      `relay settings: ${JSON.stringify(settings)}, nudge coalescing ${opts.coalesceMs ?? configSchema.shape.RELAY_NUDGE_COALESCE_MS.parse(undefined)} ms; node logs at ${opts.nodeLogLevel}`,
    );

    if (opts.warmupSeconds > 0) {
      await steadyPhase(200, 'relay', opts.warmupSeconds, watchDb);
      await quiesce();
    }
    const results: PhaseResult[] = [];
    const profiles = new Map<PhaseResult, Profile>();
    for (const rate of opts.rates) {
      const r = await steadyPhase(rate, 'relay', opts.seconds, watchDb);
      results.push(r);
      console.log(`  relay    ${rate}/s: p50 ${ms(r.lag.p50)} p95 ${ms(r.lag.p95)} ms; ${r.cpu}`);
      await quiesce();
      if (opts.profile) {
        const p = await relayProfile(a.client!, r.window);
        profiles.set(r, p);
        if (opts.samples) {
          const at = (w: number) => Math.round(w - r.window.from) / 1000;
          const lines = p.timeline.map((x) =>
            JSON.stringify({
              rate,
              mode: 'batch',
              t: at(x.scheduled),
              schedToStart: x.started === undefined ? null : x.started - x.scheduled,
              run: x.started === undefined ? null : x.completed - x.started,
              read: x.read,
            }),
          );
          fs.appendFileSync(opts.samples, lines.join('\n') + '\n');
        }
      }
      if (opts.baseline) {
        await setRelayAtoB(true);
        const base = await steadyPhase(rate, 'baseline', opts.seconds, watchDb);
        results.push(base);
        console.log(`  baseline ${rate}/s: p50 ${ms(base.lag.p50)} p95 ${ms(base.lag.p95)} ms; ${base.cpu}`);
        await setRelayAtoB(false);
        await quiesce();
      }
    }

    console.log(
      `\nLag from a push to A to its sale visible in B's \`sales\` (ms, one sample per push request; poll every ${opts.pollMs} ms)\n`,
    );
    console.log(
      table(
        [
          'rate',
          'path',
          'sent',
          'p50',
          'p95',
          'p99',
          'max',
          'events/s achieved',
          'A ack p50',
          'A ack p95',
          'goal',
        ],
        results.map((r) => [
          `${r.rate}/s`,
          r.mode === 'relay' ? 'PeerRelay' : 'baseline: bench → B',
          r.sent.toLocaleString('en-US'),
          ms(r.lag.p50),
          ms(r.lag.p95),
          ms(r.lag.p99),
          ms(r.lag.max),
          `${Math.round(r.achieved)}`,
          ms(r.ack.p50),
          ms(r.ack.p95),
          r.mode === 'relay' && r.rate === GOAL_RATE ? (r.lag.p95 < GOAL_P95_MS ? 'PASS' : 'MISS') : '',
        ]),
      ),
    );
    const goal = results.find((r) => r.mode === 'relay' && r.rate === GOAL_RATE);
    console.log(
      goal
        ? `\ngoal: p95 < ${GOAL_P95_MS} ms at ${GOAL_RATE} events/s: ${goal.lag.p95 < GOAL_P95_MS ? 'PASS' : 'MISS'} (p95 ${ms(goal.lag.p95)} ms)`
        : `\ngoal: not measured (add ${GOAL_RATE} to --rates)`,
    );

    if (profiles.size > 0) {
      console.log(`\nPeerRelay on A during each relay phase (its history; ms)\n`);
      console.log(
        table(
          [
            'rate',
            'nudges',
            'batches',
            'events/batch',
            'sched→start p50/p95/max',
            'run p50/p95/max',
            'turnaround p50/p95/max',
            'nudge→batch p50/p95/max',
            'history events',
          ],
          [...profiles].map(([r, p]) => [
            `${r.rate}/s`,
            `${p.nudges}`,
            `${p.batches}`,
            `${p.eventsPerBatch.mean.toFixed(1)} (max ${p.eventsPerBatch.max})`,
            `${ms(p.scheduleToStart.p50)} / ${ms(p.scheduleToStart.p95)} / ${ms(p.scheduleToStart.max)}`,
            `${ms(p.run.p50)} / ${ms(p.run.p95)} / ${ms(p.run.max)}`,
            `${ms(p.turnaround.p50)} / ${ms(p.turnaround.p95)} / ${ms(p.turnaround.max)} (${p.turnaround.n})`,
            `${ms(p.wake.p50)} / ${ms(p.wake.p95)} / ${ms(p.wake.max)} (${p.wake.n})`,
            `${p.historyEvents}${p.runs > 1 ? ` (${p.runs} runs)` : ''}`,
          ]),
        ),
      );
      console.log(
        '\nrun = relayBatch activity start to completion (read the log, order, push to B, B ingests); ' +
          'turnaround = batch completed → next batch scheduled when a nudge was already pending or the batch was full ' +
          '(one workflow task); nudge→batch = first nudge after an idle wait → batch scheduled.',
      );
    }

    if (opts.ceilingSeconds > 0) {
      console.log(`\nRelay throughput ceiling\n`);
      console.log(await ceiling(watchDb));
      await quiesce(300_000);
    }
  } finally {
    await watchDb.end().catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
  }
  if (errors.length > 0) {
    console.error(`\n${errors.length} error(s); first: ${errors[0]}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
