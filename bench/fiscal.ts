/**
 * Fiscal range benchmark (docs/benchmarks.md, "Fiscal ranges"; the rules: docs/fiscal.md): devices
 * reserving fiscal number ranges at once, on one node and on two nodes that share one series.
 *
 *   npm run bench:fiscal [-- --devices=50 --seconds=10 --quantity=50 --modes=one,two]
 *
 * Options (argv or env): --devices (BENCH_DEVICES, 50) closed-loop clients, each on its own
 * keep-alive connection, reserving again as soon as it has an answer; --seconds (BENCH_SECONDS, 10)
 * per mode; --quantity (BENCH_QUANTITY, 50) numbers per range; --modes (BENCH_MODES, one,two);
 * --block-size (FISCAL_BLOCK_SIZE, 1000), --node-log-level (BENCH_NODE_LOG_LEVEL, warn).
 *
 * Setup: whole nodes as child processes (bench/lib/node.ts: `bin/node.ts`, API + worker, launched as
 * the federation tests launch them) on fresh databases. `one`: a single node, home of the series.
 * `two`: nodes a and b, peers of each other; a is the series' home (the smaller id), the clients
 * alternate between them, so b asks a for blocks as it runs low. Every request is a first
 * reservation of a new device (201: a new range and its FiscalRange workflow), with the admin token.
 * Reported per mode: reservations/s, latency p50/p99, refusals (409/503, with their codes), and the
 * overlaps found among every range handed out, from the answers and, for `two`, from both nodes'
 * tables after their relays drained. Exits non-zero on an overlap or an unexpected status.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ensureServices } from '../scripts/services';
import { ADMIN_SECRET } from '../test/support/app';
import { HttpClient } from './lib/http';
import { createNodes, type TestNode } from './lib/node';
import { intOption, option } from './lib/options';
import { quiesce } from './lib/relay-control';
import { ms, summary, table } from './lib/stats';

const opts = {
  devices: intOption('devices', 'BENCH_DEVICES', 50),
  seconds: intOption('seconds', 'BENCH_SECONDS', 10),
  quantity: intOption('quantity', 'BENCH_QUANTITY', 50),
  modes: (option('modes', 'BENCH_MODES') ?? 'one,two').split(',').map((m) => m.trim()),
  blockSize: intOption('block-size', 'FISCAL_BLOCK_SIZE', 1000),
  nodeLogLevel: option('node-log-level', 'BENCH_NODE_LOG_LEVEL') ?? 'warn',
};

interface Handed {
  node: string;
  start: number;
  end: number;
}

interface ModeResult {
  mode: string;
  reservations: number;
  seconds: number;
  latencies: number[];
  refused: Map<string, number>;
  overlaps: number;
  tableOverlaps: number | null;
}

function overlapsOf(ranges: { start: number; end: number }[]): number {
  const sorted = [...ranges].sort((x, y) => x.start - y.start);
  let found = 0;
  let maxEnd = -Infinity;
  for (const r of sorted) {
    if (r.start <= maxEnd) found++;
    maxEnd = Math.max(maxEnd, r.end);
  }
  return found;
}

async function rangesInTables(node: TestNode, storeId: string) {
  const rows = await node.db
    .selectFrom('fiscal_sequence_ranges')
    .select(['range_start', 'range_end'])
    .where('store_id', '=', storeId)
    .execute();
  return rows.map((r) => ({ start: Number(r.range_start), end: Number(r.range_end) }));
}

async function runMode(mode: string): Promise<ModeResult> {
  const ids = mode === 'two' ? ['a', 'b'] : ['a'];
  const net = await createNodes(ids, {
    env: {
      LOG_LEVEL: opts.nodeLogLevel,
      RATE_LIMIT_MAX: '100000000',
      FISCAL_BLOCK_SIZE: String(opts.blockSize),
      FISCAL_RANGE_MAX_SIZE: String(Math.max(1000, opts.quantity)),
    },
  });
  const nodes = ids.map((id) => net[id]!);
  const clients: HttpClient[] = [];
  try {
    // One at a time: each bundles its workflows at start.
    for (const n of nodes) await n.start();
    const storeId = randomUUID();
    const seriesId = randomUUID();
    for (const n of nodes) {
      const res = await n.request('POST', '/stores', { id: storeId, name: 'Bench store' });
      if (res.status >= 300) throw new Error(`store on ${n.id}: ${res.status}`);
    }
    const handed: Handed[] = [];
    const latencies: number[] = [];
    const refused = new Map<string, number>();
    const deadline = performance.now() + opts.seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: opts.devices }, async (_, i) => {
        const node = nodes[i % nodes.length]!;
        const http = new HttpClient(node.url, ADMIN_SECRET);
        clients.push(http);
        while (performance.now() < deadline) {
          const body = Buffer.from(
            JSON.stringify({
              store_id: storeId,
              series_id: seriesId,
              device_id: randomUUID(),
              quantity: opts.quantity,
            }),
          );
          const t0 = performance.now();
          const res = await http.request('POST', '/fiscal/reserve-range', body);
          latencies.push(performance.now() - t0);
          if (res.status === 201) {
            const r = JSON.parse(res.body) as { range_start: number; range_end: number };
            handed.push({ node: node.id, start: r.range_start, end: r.range_end });
          } else if (res.status === 409 || res.status === 503) {
            const code = (JSON.parse(res.body) as { error: { code: string } }).error.code;
            refused.set(code, (refused.get(code) ?? 0) + 1);
          } else {
            throw new Error(`reserve on ${node.id}: ${res.status} ${res.body.slice(0, 300)}`);
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    let tableOverlaps: number | null = null;
    if (nodes.length === 2) {
      await quiesce(nodes[0]!, nodes[1]!);
      const [ra, rb] = await Promise.all(nodes.map((n) => rangesInTables(n, storeId)));
      if (ra!.length !== rb!.length) throw new Error(`nodes disagree: ${ra!.length} vs ${rb!.length} ranges`);
      tableOverlaps = overlapsOf(ra!);
    }
    return {
      mode,
      reservations: handed.length,
      seconds,
      latencies,
      refused,
      overlaps: overlapsOf(handed),
      tableOverlaps,
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
}

async function main(): Promise<void> {
  const endpoints = await ensureServices({ log: () => undefined });
  process.env.DATABASE_URL ??= endpoints.databaseUrl;
  process.env.TEMPORAL_ADDRESS ??= endpoints.temporalAddress;
  const results: ModeResult[] = [];
  for (const mode of opts.modes) results.push(await runMode(mode));
  console.log(
    `\nbench:fiscal — ${opts.devices} devices, ${opts.seconds} s per mode, ${opts.quantity} numbers per range, ` +
      `blocks of ${opts.blockSize}\n`,
  );
  console.log(
    table(
      [
        'mode',
        'reservations',
        'reservations/s',
        'p50 ms',
        'p99 ms',
        'refused',
        'overlaps (answers)',
        'overlaps (tables)',
      ],
      results.map((r) => {
        const s = summary(r.latencies);
        return [
          r.mode === 'two' ? 'two nodes' : 'one node',
          String(r.reservations),
          (r.reservations / r.seconds).toFixed(1),
          ms(s.p50),
          ms(s.p99),
          [...r.refused].map(([c, n]) => `${c} ${n}`).join(', ') || '0',
          String(r.overlaps),
          r.tableOverlaps === null ? '-' : String(r.tableOverlaps),
        ];
      }),
    ),
  );
  if (results.some((r) => r.overlaps > 0 || (r.tableOverlaps ?? 0) > 0)) {
    console.error('\nFAIL: a number was handed out twice');
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
