/**
 * The raw baseline of bench:ingest: the rows the node stores for the pushed events, written with
 * plain INSERTs (one statement per push: multi-row for batches, single-row for tills) into a copy of
 * `events` (same columns and indexes), no projections, over a given number of connections.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { cpuMeter, formatPerEvent, formatShares } from './cpu';
import { connect } from './db';
import type { PhaseResult } from './push';
import { insertRowsSql, type Batch } from './workload';

export async function createBaselineTable(c: pg.Client): Promise<void> {
  await c.query(`CREATE TABLE events_baseline (LIKE events INCLUDING ALL)`);
  // LIKE copies node_seq's default (events' sequence); give the baseline a sequence of its own.
  await c.query(`CREATE SEQUENCE events_baseline_node_seq_seq OWNED BY events_baseline.node_seq`);
  await c.query(
    `ALTER TABLE events_baseline ALTER COLUMN node_seq SET DEFAULT nextval('events_baseline_node_seq_seq')`,
  );
}

/** Starts every connection, waits until all have finished their warmup, then times the rest together. */
class Barrier {
  private waiting = 0;
  private release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  constructor(private readonly parties: number) {}
  arrive(): Promise<void> {
    if (++this.waiting === this.parties) this.release();
    return this.released;
  }
}

/** Client i's pushes go to connection i mod n, the clients of one connection taking turns. */
function perConnection(batches: Batch[][], n: number): Batch[][] {
  const out: Batch[][] = Array.from({ length: Math.min(n, batches.length) }, () => []);
  const longest = Math.max(...batches.map((b) => b.length));
  for (let k = 0; k < longest; k++)
    batches.forEach((list, i) => {
      if (list[k]) out[i % out.length]!.push(list[k]!);
    });
  return out;
}

/** The warmup rows untimed, then the timed rows on every connection at once; prints who used the CPU. */
export async function baselinePhase(
  url: string,
  connections: number,
  warmupAll: Batch[][],
  timedAll: Batch[][],
): Promise<PhaseResult> {
  const warmup = perConnection(warmupAll, connections);
  const timed = perConnection(timedAll, connections);
  const conns = await Promise.all(warmup.map(() => connect(url)));
  const pids = await Promise.all(
    conns.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid),
  );
  const texts = new Map<number, string>();
  const textFor = (rows: number) => {
    let t = texts.get(rows);
    if (!t) texts.set(rows, (t = insertRowsSql('events_baseline', rows)));
    return t;
  };
  const latencies: number[] = [];
  const events = timed.flat().reduce((n, b) => n + b.rows.length, 0);
  let bytes = 0;
  const barrier = new Barrier(conns.length);
  let t0 = 0;
  let meter: ReturnType<typeof cpuMeter> | undefined;
  void barrier.released.then(() => {
    t0 = performance.now();
    meter = cpuMeter();
  });
  try {
    await Promise.all(
      conns.map(async (c, i) => {
        for (const b of warmup[i]!) await c.query(textFor(b.rows.length), b.rows.flat());
        // Statement parameters flattened and sized before the clock starts, like the push bodies.
        const statements = timed[i]!.map((b) => {
          const text = textFor(b.rows.length);
          const values = b.rows.flat();
          let size = Buffer.byteLength(text);
          for (const v of values) if (v !== null) size += Buffer.byteLength(String(v));
          return { text, values, size };
        });
        await barrier.arrive();
        for (const st of statements) {
          const started = performance.now();
          await c.query(st.text, st.values);
          latencies.push(performance.now() - started);
          bytes += st.size;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const u = meter!([{ label: 'postgres bench backends', pids, postgres: true }]);
    console.log(`baseline ${formatShares(u, { temporalIsForeign: true })}\n  ${formatPerEvent(u, events)}`);
    const kind = timed.flat().every((b) => b.rows.length === 1) ? 'single-row' : 'multi-row';
    return { scenario: `baseline (${kind} INSERT)`, events, seconds, latencies, bytes };
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}
