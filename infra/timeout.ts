/**
 * Settles like `p`, or rejects with `new Error(message)` after `ms` if `p` has not settled by then
 * (the timer is cleared either way). For calls that take no AbortSignal: health checks, Temporal
 * queries.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
