/**
 * Replication benchmark (goals and figures: docs/benchmarks.md, "Replication"): lag from a push on
 * node A to the row visible in node B's projection, at steady rates, against a baseline measured in
 * the same run.
 *
 *   npm run bench:replication [-- --rates=500,1000,2000 --seconds=15 --ceiling-seconds=10]
 *   npm run bench:replication -- --till --rates=1000     # till traffic: one sale per push from 50 devices
 *
 * Options (argv or env; each listed in docs/benchmarks.md): --rates, --seconds, --tick-ms (one push
 * of rate × tick events per tick), --devices, --till (one SaleCreated per push, a push every 1000/rate
 * ms, from 50 devices in turn), --poll-ms, --warmup-seconds, --ceiling-seconds/-clients/-batch,
 * --no-baseline, --no-profile, --no-wait-quiet, --samples=FILE; node settings under test:
 * --coalesce-ms, --batch-size, --node-log-level.
 *
 * Setup: two real nodes as child processes (bench/lib/node.ts: `bin/node.ts`, API + worker each,
 * launched as the federation tests launch them) on fresh databases, a Temporal namespace each, peers
 * of each other; one store declared on both; devices registered on A push SaleCreated events of 1–3
 * lines (bench/lib/workload.ts) with their own tokens; rate limit lifted, the rest as shipped.
 * Phases, per rate: `relay`, open-loop pushes to A (a push every tick whatever the previous ones
 * are doing) that PeerRelay carries to B; `baseline`, the same pushes with A's relay to B paused and
 * the bench sending each acknowledged push to B itself with the pair's peer token (one extra hop,
 * no actor). Lag of a push = from its request to A to the first poll of B's database (every
 * --poll-ms, only what B committed since: bench/lib/sales-watch.ts) that finds its last sale in
 * `sales`. Between phases both relays drain to lag 0. Ceiling: clients push batches to A as fast as
 * A takes them, then the time B needs to hold them all gives the relay's throughput. Profile:
 * PeerRelay's own history over each relay phase (bench/lib/relay-profile.ts). Exits non-zero on
 * errors (a refused push, a sale that never reaches B); a goal MISS is reported, not failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { configSchema } from '../infra/config';
import { relayWorkflowId } from '../workflows/ids';
import { ensureServices } from '../scripts/services';
import { cpuMeter, cpuSeries, formatShares, waitQuiet, type CpuGroup } from './lib/cpu';
import { measureCeiling } from './lib/ceiling';
import { backendsOf } from './lib/db';
import { HttpClient } from './lib/http';
import { createNodes, type TestNode } from './lib/node';
import { flag, intList, option } from './lib/options';
import { adminRequest, quiesce, setRelayPaused } from './lib/relay-control';
import { profileTable, relayProfile, timelineSamples, type Profile } from './lib/relay-profile';
import { SalesTail, startWatcher } from './lib/sales-watch';
import { ms, summary, table, type Summary } from './lib/stats';
import { makeStore, PosDevice, prng, type Store } from './lib/workload';

const GOAL_RATE = 1000;

// ---------------------------------------------------------------------------------------------
// Options

const int = (name: string, env: string, fallback: number) => intList(name, env, [fallback])[0]!;
const till = flag('till', 'BENCH_TILL');

const opts = {
  rates: intList('rates', 'BENCH_RATES', [500, 1000, 2000]),
  seconds: int('seconds', 'BENCH_SECONDS', 15),
  tickMs: int('tick-ms', 'BENCH_TICK_MS', 10),
  till,
  devices: int('devices', 'BENCH_DEVICES', till ? 50 : 4),
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
/** p95 goal at GOAL_RATE (docs/benchmarks.md): 250 ms under till traffic, else 500 ms. */
const GOAL_P95_MS = till ? 250 : 500;

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errors: string[] = [];

function fail(message: string): void {
  if (errors.length < 20) console.error(`ERROR: ${message}`);
  errors.push(message);
}

/**
 * Who used the CPU (share of all cores): bench, node A, node B, the PostgreSQL backends of the two
 * nodes, the rest of PostgreSQL, the Temporal dev server, everything else.
 */
const cpuGroups = (): CpuGroup[] => [
  { label: 'node A', pids: a.process?.pid },
  { label: 'node B', pids: b.process?.pid },
  { label: 'their postgres', pids: pgBackends, postgres: true },
];
const describeCpu = (meter: ReturnType<typeof cpuMeter>) =>
  formatShares(meter(cpuGroups()), { strict: true, selfLabel: 'bench' });

// ---------------------------------------------------------------------------------------------
// The network

interface Device {
  pos: PosDevice;
  http: HttpClient;
}

let a: TestNode;
let b: TestNode;
let store: Store;
let devices: Device[] = [];
/** The bench pushing to B as A's relay would, with the pair's token. */
let peerToB: HttpClient;
const pgBackends = new Set<number>();

/** The PostgreSQL backends now serving the two nodes' databases. */
async function refreshBackends(watchDb: pg.Client): Promise<void> {
  for (const pid of await backendsOf(watchDb, [a.database.name, b.database.name])) pgBackends.add(pid);
}

/** n sales of the device as one push body; the last sale's id is the one tracked on B. */
function saleEvents(device: Device, n: number): { body: Buffer; events: object[]; lastSale: string } {
  const events = Array.from({ length: n }, () => device.pos.sale());
  const lastSale = String(events[events.length - 1]!.payload.sale_id);
  const body = Buffer.from(JSON.stringify({ store_id: store.id, device_id: device.pos.deviceId, events }));
  return { body, events, lastSale };
}

async function pushToA(device: Device, body: Buffer, count: number): Promise<boolean> {
  try {
    const res = await device.http.push(body);
    if (res.accepted.length === count) return true;
    fail(`push to A: ${JSON.stringify(res).slice(0, 300)}`);
  } catch (err) {
    fail(`push to A: ${err instanceof Error ? err.message : String(err)}`);
  }
  return false;
}

/** What relay would send: the events as A stored them (origin A), with the pair's token. */
async function pushToBAsPeer(events: object[]): Promise<void> {
  const wire = events.map((e) => ({ ...e, origin_node: 'a' }));
  const body = Buffer.from(JSON.stringify({ store_id: store.id, device_id: 'a', events: wire }));
  try {
    const res = await peerToB.push(body);
    if (res.accepted.length + res.duplicates.length !== events.length)
      fail(`push to B: ${JSON.stringify(res).slice(0, 300)}`);
  } catch (err) {
    fail(`push to B: ${err instanceof Error ? err.message : String(err)}`);
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
  lag: Summary;
  ack: Summary;
  cpu: string;
  window: { from: number; to: number };
  lost: number;
}

async function steadyPhase(
  rate: number,
  mode: 'relay' | 'baseline',
  seconds: number,
  watchDb: pg.Client,
): Promise<PhaseResult> {
  // Till traffic: one event per push, a push every 1000/rate ms.
  const perPush = opts.till ? 1 : Math.max(1, Math.round((rate * opts.tickMs) / 1000));
  const tickMs = (perPush * 1000) / rate; // exact rate even when rate × tick is not a whole number
  const watcher = await startWatcher(watchDb, store.id, opts.pollMs);
  const acks: number[] = [];
  const ackSeries: { t: number; ack: number }[] = [];
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  let requests = 0;
  await refreshBackends(watchDb);
  if (opts.waitQuiet) await waitQuiet(cpuGroups);
  const meter = cpuMeter();
  const fromWall = Date.now();
  const start = performance.now();
  // With --samples: who used the CPU, second by second (stalls are easier to place).
  const series = opts.samples ? cpuSeries(cpuGroups, { rate, mode: `${mode}-cpu` }) : undefined;
  for (let i = 0; ; i++) {
    const due = start + i * tickMs;
    if (due - start >= seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const device = devices[i % devices.length]!;
    const { body, events, lastSale } = saleEvents(device, perPush);
    const sentAt = performance.now();
    watcher.track(lastSale, sentAt);
    sent += events.length;
    requests += 1;
    const p = (async () => {
      if (!(await pushToA(device, body, events.length))) return;
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
  await refreshBackends(watchDb);
  const cpu = describeCpu(meter);
  if (lost > 0) fail(`${mode} at ${rate}/s: ${lost} tracked sales never reached B within 60 s`);
  if (opts.samples) {
    const lines = [
      ...seen.map((x) =>
        JSON.stringify({ rate, mode, t: Math.round(x.sentAt - start) / 1000, lag: Math.round(x.lag) }),
      ),
      ...ackSeries.map((x) =>
        JSON.stringify({ rate, mode, t: Math.round(x.t) / 1000, ack: Math.round(x.ack) }),
      ),
      ...(series?.stop() ?? []),
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
// Ceiling: push as fast as A takes it, then see how long B needs

async function ceiling(watchDb: pg.Client): Promise<string> {
  const tail = new SalesTail(watchDb, store.id);
  await tail.start();
  await refreshBackends(watchDb);
  if (opts.waitQuiet) await waitQuiet(cpuGroups);
  const meter = cpuMeter();
  const r = await measureCeiling({
    tail,
    clients: opts.ceilingClients,
    seconds: opts.ceilingSeconds,
    push: async (c) => {
      const { body, events } = saleEvents(devices[c % devices.length]!, opts.ceilingBatch);
      return (await pushToA(devices[c % devices.length]!, body, events.length)) ? events.length : null;
    },
  });
  if (r.arrived < r.pushed) fail(`ceiling: B holds ${r.arrived} of ${r.pushed} sales after 300 s`);
  await refreshBackends(watchDb);
  return [
    `pushed ${r.pushed.toLocaleString('en-US')} events to A in ${r.pushSeconds.toFixed(1)} s ` +
      `(${opts.ceilingClients} clients × ${opts.ceilingBatch} per push, closed loop): ${Math.round(r.pushed / r.pushSeconds)} events/s into A`,
    `B held ${r.atEnd.toLocaleString('en-US')} of them when the pushes stopped; all ${(r.totalSeconds - r.pushSeconds).toFixed(1)} s later`,
    `relay throughput: ${Math.round(r.pushed / r.totalSeconds)} events/s overall (first push to last row on B); ` +
      `B's intake while A was loaded ${Math.round(r.intakePerSecond)} events/s; drain after the pushes ${Math.round(r.drainPerSecond)} events/s`,
    describeCpu(meter),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const endpoints = await ensureServices({ log: () => undefined });
  process.env.DATABASE_URL ??= endpoints.databaseUrl;
  process.env.TEMPORAL_ADDRESS ??= endpoints.temporalAddress;
  const env: Record<string, string> = {
    LOG_LEVEL: opts.nodeLogLevel,
    RATE_LIMIT_MAX: '100000000',
    ...(opts.coalesceMs ? { RELAY_NUDGE_COALESCE_MS: opts.coalesceMs } : {}),
    ...(opts.batchSize ? { RELAY_BATCH_SIZE: opts.batchSize } : {}),
  };
  const net = await createNodes(['a', 'b'], { env });
  [a, b] = [net.a!, net.b!];
  const watchDb = new pg.Client({ connectionString: b.database.url });
  try {
    await Promise.all([a.start(), b.start()]);
    await watchDb.connect();
    const peerToken = (JSON.parse(b.env.PEERS!) as { id: string; token: string }[]).find(
      (p) => p.id === 'a',
    )!.token;
    // Open-loop: the pushes of a phase overlap, so these clients open as many connections as they need.
    const open = { maxSockets: Infinity, timeoutMs: 120_000 };
    peerToB = new HttpClient(b.url, peerToken, open);
    store = makeStore(randomUUID(), prng(42), 50);
    for (const node of [a, b])
      await adminRequest(node, 'POST', '/stores', { id: store.id, name: 'Bench store' });
    devices = [];
    for (let i = 0; i < opts.devices; i++) {
      const path = `/stores/${store.id}/devices`;
      const d = await adminRequest<{ device_id: string; token: string }>(a, 'POST', path, {
        name: `POS ${i}`,
      });
      const pos = new PosDevice(store, d.device_id, 1000 + i, `cashier-${i + 1}`);
      devices.push({ pos, http: new HttpClient(a.url, d.token, open) });
    }
    const settings = (
      await a
        .client!.workflow.getHandle(relayWorkflowId('a', 'b'))
        .query<{ settings: Record<string, unknown> }>('status')
    ).settings;
    console.log(
      `replication bench: ${os.cpus().length} cores, node ${process.version}; rates ${opts.rates.join(', ')} events/s, ` +
        `${opts.seconds} s each, ` +
        (opts.till ? 'one sale per push (till traffic)' : `a push every ~${opts.tickMs} ms`) +
        ` from ${opts.devices} devices, B polled every ${opts.pollMs} ms`,
    );
    console.log(
      `relay settings: ${JSON.stringify(settings)}, nudge coalescing ${opts.coalesceMs ?? configSchema.shape.RELAY_NUDGE_COALESCE_MS.parse(undefined)} ms; node logs at ${opts.nodeLogLevel}`,
    );

    if (opts.warmupSeconds > 0) {
      await steadyPhase(200, 'relay', opts.warmupSeconds, watchDb);
      await quiesce(a, b);
    }
    const results: PhaseResult[] = [];
    const profiles = new Map<PhaseResult, Profile>();
    for (const rate of opts.rates) {
      const r = await steadyPhase(rate, 'relay', opts.seconds, watchDb);
      results.push(r);
      console.log(`  relay    ${rate}/s: p50 ${ms(r.lag.p50)} p95 ${ms(r.lag.p95)} ms; ${r.cpu}`);
      await quiesce(a, b);
      if (opts.profile) {
        const p = await relayProfile(a.client!, r.window);
        profiles.set(r, p);
        if (opts.samples) fs.appendFileSync(opts.samples, timelineSamples(p, r.window.from, { rate }));
      }
      if (opts.baseline) {
        await setRelayPaused(a, 'b', true);
        const base = await steadyPhase(rate, 'baseline', opts.seconds, watchDb);
        results.push(base);
        console.log(`  baseline ${rate}/s: p50 ${ms(base.lag.p50)} p95 ${ms(base.lag.p95)} ms; ${base.cpu}`);
        await setRelayPaused(a, 'b', false);
        await quiesce(a, b);
      }
    }

    console.log(
      `\nLag from a push to A to its sale visible in B's \`sales\` (ms, one sample per push request; poll every ${opts.pollMs} ms)\n`,
    );
    console.log(
      table(
        'rate|path|sent|p50|p95|p99|max|events/s achieved|A ack p50|A ack p95|goal'.split('|'),
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
      console.log(profileTable([...profiles].map(([r, p]) => [`${r.rate}/s`, p])));
    }

    if (opts.ceilingSeconds > 0) {
      console.log(`\nRelay throughput ceiling\n`);
      console.log(await ceiling(watchDb));
      await quiesce(a, b, 300_000);
    }
  } finally {
    await watchDb.end().catch(() => undefined);
    for (const d of devices) d.http.close();
    peerToB?.close();
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
