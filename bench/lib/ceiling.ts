/**
 * A relay's throughput ceiling (bench/replication.ts): clients push to the first node as fast as it
 * takes them (closed loop) for a while, and the second node's arrivals are followed all along, so
 * the time the second node needs to hold everything gives the relay's throughput.
 */
import { performance } from 'node:perf_hooks';
import type { SalesTail } from './sales-watch';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CeilingRun {
  /** Follows the second node (started before the pushes). */
  tail: SalesTail;
  clients: number;
  seconds: number;
  /** One push by client `c`: the number of events the first node acknowledged, or null to stop. */
  push(c: number): Promise<number | null>;
  /** Pushed events that never arrived within this long after the pushes are reported, not awaited. */
  drainTimeoutMs?: number;
}

export interface CeilingResult {
  pushed: number;
  arrived: number;
  pushSeconds: number;
  /** Held by the second node when the pushes stopped. */
  atEnd: number;
  /** From the first push to the last row on the second node. */
  totalSeconds: number;
  /** The second node's intake while the first was loaded (slope from 2 s to the end of the pushes). */
  intakePerSecond: number;
  /** Its intake after the pushes stopped. */
  drainPerSecond: number;
}

export async function measureCeiling(run: CeilingRun): Promise<CeilingResult> {
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const stopAt = start + run.seconds * 1000;
  const drainTimeoutMs = run.drainTimeoutMs ?? 300_000;
  let pushed = 0;
  let arrived = 0;
  let pushing = true;
  const samples: { t: number; n: number }[] = [];
  // Every 20 ms, what committed since the last look.
  const follower = (async () => {
    while (pushing || arrived < pushed) {
      arrived += (await run.tail.poll()).length;
      samples.push({ t: elapsed(), n: arrived });
      if (!pushing && elapsed() > run.seconds + drainTimeoutMs / 1000) break;
      await sleep(20);
    }
  })();
  await Promise.all(
    Array.from({ length: run.clients }, async (_, c) => {
      while (performance.now() < stopAt) {
        const n = await run.push(c);
        if (n === null) return;
        pushed += n;
      }
    }),
  );
  const pushSeconds = elapsed();
  pushing = false;
  await follower;
  const atEnd = [...samples].reverse().find((x) => x.t <= pushSeconds)?.n ?? 0;
  const totalSeconds = samples.find((x) => x.n >= pushed)?.t ?? elapsed();
  const mid = samples.filter((s) => s.t >= 2 && s.t <= pushSeconds);
  const intakePerSecond =
    mid.length >= 2 ? (mid[mid.length - 1]!.n - mid[0]!.n) / (mid[mid.length - 1]!.t - mid[0]!.t) : NaN;
  const drainPerSecond = totalSeconds > pushSeconds ? (pushed - atEnd) / (totalSeconds - pushSeconds) : NaN;
  return { pushed, arrived, pushSeconds, atEnd, totalSeconds, intakePerSecond, drainPerSecond };
}
