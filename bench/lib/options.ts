/** Command-line options of the benchmarks: `--name=value`, `--name value` or a bare `--name`, else an env variable. */

/** The raw value ('true' for a bare flag), else the environment variable. */
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

/** A bare flag or `1`/`true`. */
export function flag(name: string, env: string): boolean {
  return ['1', 'true'].includes(option(name, env) ?? '');
}

/** An integer >= min; the fallback when unset (undefined: the caller decides later). */
export function intOption(name: string, env: string, fallback: number, min?: number): number;
export function intOption(name: string, env: string, fallback: undefined, min?: number): number | undefined;
export function intOption(
  name: string,
  env: string,
  fallback: number | undefined,
  min = 1,
): number | undefined {
  const raw = option(name, env);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} (${env}) must be an integer >= ${min}, got ${raw}`);
  return n;
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

/** One of a fixed set of words. */
export function choice<T extends string>(name: string, env: string, values: readonly T[], fallback: T): T {
  const raw = option(name, env) ?? fallback;
  if (!values.includes(raw as T))
    throw new Error(`--${name} (${env}) must be one of ${values.join(', ')}, got ${raw}`);
  return raw as T;
}
