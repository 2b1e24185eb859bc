/**
 * Who used the CPU during a phase, from /proc (utime + stime per process, in clock ticks of 10 ms):
 * this load generator, the groups of processes a benchmark names (nodes, their PostgreSQL backends),
 * the rest of PostgreSQL (WAL writer, checkpointer, autovacuum, other databases), the Temporal dev
 * server, and everything else. Others' work on a shared machine makes a phase unfair: it is flagged.
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** CPU ticks (utime + stime, 1/100 s) of every process now visible in /proc. */
export function procTicks(): Map<number, { ticks: number; comm: string }> {
  const out = new Map<number, { ticks: number; comm: string }>();
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      out.set(Number(pid), { ticks: Number(f[11]) + Number(f[12]), comm });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export interface CpuGroup {
  label: string;
  pids: Iterable<number> | number | undefined;
  /** PostgreSQL backends: counted with the rest of PostgreSQL in the per-event budget. */
  postgres?: boolean;
}

export interface CpuUsage {
  seconds: number;
  cores: number;
  /** Ticks of this process (the load generator). */
  self: number;
  groups: { group: CpuGroup; ticks: number }[];
  pgOther: number;
  temporal: number;
  other: number;
}

/** Share of all cores that `ticks` over the phase stand for (0..1). */
export const share = (u: CpuUsage, ticks: number): number => ticks / 100 / u.seconds / u.cores;

/** Ticks used since `start`, classified by group (first match wins). */
export function cpuSince(
  start: Map<number, { ticks: number; comm: string }>,
  seconds: number,
  groups: CpuGroup[],
): CpuUsage {
  const sets = groups.map((g) => new Set(typeof g.pids === 'number' ? [g.pids] : (g.pids ?? [])));
  const u: CpuUsage = {
    seconds,
    cores: os.cpus().length,
    self: 0,
    groups: groups.map((group) => ({ group, ticks: 0 })),
    pgOther: 0,
    temporal: 0,
    other: 0,
  };
  for (const [pid, e] of procTicks()) {
    const d = e.ticks - (start.get(pid)?.ticks ?? 0);
    if (d <= 0) continue;
    if (pid === process.pid) {
      u.self += d;
      continue;
    }
    const g = sets.findIndex((s) => s.has(pid));
    if (g >= 0) u.groups[g]!.ticks += d;
    else if (e.comm.startsWith('postgres')) u.pgOther += d;
    else if (e.comm.startsWith('temporal')) u.temporal += d;
    else u.other += d;
  }
  return u;
}

/** Starts measuring now; each call of the result reads the usage since then. */
export function cpuMeter(): (groups: CpuGroup[]) => CpuUsage {
  const start = procTicks();
  const t0 = performance.now();
  return (groups) => cpuSince(start, (performance.now() - t0) / 1000, groups);
}

/**
 * `cpu (share of N cores over S s): load generator 3%, … other processes 1%`, flagged when processes
 * outside the benchmark used more than 15 % of the machine (`strict`: the rest of PostgreSQL too;
 * `temporalIsForeign`: a benchmark whose nodes do not use Temporal counts it as someone else's).
 */
export function formatShares(
  u: CpuUsage,
  { strict = false, temporalIsForeign = false, selfLabel = 'load generator' } = {},
): string {
  const pct = (t: number) => `${Math.round(100 * share(u, t))}%`;
  const parts = [
    `${selfLabel} ${pct(u.self)}`,
    ...u.groups.map((g) => `${g.group.label} ${pct(g.ticks)}`),
    `postgres other ${pct(u.pgOther)}`,
    ...(u.temporal > 0 ? [`temporal ${pct(u.temporal)}`] : []),
    `other processes ${pct(u.other)}`,
  ];
  const foreign = u.other + (strict ? u.pgOther : 0) + (temporalIsForeign ? u.temporal : 0);
  const busy = share(u, foreign) > 0.15;
  return (
    `cpu (share of ${u.cores} cores over ${u.seconds.toFixed(1)} s): ${parts.join(', ')}` +
    (busy ? '  WARNING: other processes used the CPU; figures are unreliable' : '')
  );
}

/**
 * The budget view: CPU per event of each party, in µs. Two saturated cores give 2 s of CPU per
 * second, so events/s can never exceed 2e6 / (the total).
 */
export function formatPerEvent(u: CpuUsage, events: number, selfLabel = 'load generator'): string {
  const per = (ticks: number) => ((ticks * 10_000) / Math.max(1, events)).toFixed(0);
  const pg = u.pgOther + u.groups.filter((g) => g.group.postgres).reduce((s, g) => s + g.ticks, 0);
  const nodes = u.groups.filter((g) => !g.group.postgres);
  const total = u.self + pg + nodes.reduce((s, g) => s + g.ticks, 0);
  return (
    `cpu per event (µs): ${selfLabel} ${per(u.self)}` +
    nodes.map((g) => `, ${g.group.label} ${per(g.ticks)}`).join('') +
    `, postgres ${per(pg)}, total ${per(total)}`
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to maxMs) for a second in which work outside the groups uses under 10 % of the machine. */
export async function waitQuiet(groups: () => CpuGroup[], maxMs = 120_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let warned = false;
  while (performance.now() < deadline) {
    const start = procTicks();
    await sleep(1000);
    const u = cpuSince(start, 1, groups());
    if (share(u, u.other + u.pgOther) < 0.1) return;
    if (!warned) console.log('  (waiting for other work on the machine to finish)');
    warned = true;
  }
  console.log('  (machine still busy; measuring anyway)');
}

/** Who used the CPU second by second (percent of the machine), as JSON lines tagged with `tags`, until stopped. */
export function cpuSeries(groups: () => CpuGroup[], tags: Record<string, unknown>): { stop(): string[] } {
  const lines: string[] = [];
  const t0 = performance.now();
  let last = procTicks();
  const timer = setInterval(() => {
    const u = cpuSince(last, 1, groups());
    last = procTicks();
    const pct = (t: number) => Math.round(100 * share(u, t));
    lines.push(
      JSON.stringify({
        ...tags,
        t: Math.round(performance.now() - t0) / 1000,
        bench: pct(u.self),
        ...Object.fromEntries(u.groups.map((g) => [g.group.label, pct(g.ticks)])),
        pgOther: pct(u.pgOther),
        temporal: pct(u.temporal),
        other: pct(u.other),
      }),
    );
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      return lines;
    },
  };
}
