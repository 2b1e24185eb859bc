/**
 * Helpers the benchmarks share: command-line options with an environment fallback, percentiles and
 * per-process CPU ticks from /proc.
 */
import fs from 'node:fs';

/** `--name=value`, `--name value` or a bare `--name` ('true'); else the environment variable. */
export function option(name: string, env: string): string | undefined {
  const flag = `--${name}`;
  for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i]!;
    if (arg === flag) {
      const next = process.argv[i + 1];
      return next === undefined || next.startsWith('--') ? 'true' : next;
    }
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return process.env[env];
}

/** A comma-separated list of integers >= 0 (`--sizes=1000,10000`). */
export function intList(name: string, env: string, fallback: number[]): number[] {
  const raw = option(name, env);
  if (!raw) return fallback;
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0))
    throw new Error(`--${name} (${env}) must be integers >= 0, got ${raw}`);
  return list;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

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
