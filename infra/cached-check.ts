/**
 * A check whose answer is reused for `ttlMs` from the moment it was asked: callers within the window,
 * concurrent or not, share one call, so a flood of /healthz costs a dependency one call per window
 * (and a probe that hangs until its timeout starts at most one more per window). `ttlMs` 0 asks every
 * time. Failures are cached like successes, for as short a window: an outage shows within `ttlMs`.
 */
export function cachedCheck<T>(check: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let cached: { at: number; answer: Promise<T> } | undefined;
  return () => {
    if (ttlMs <= 0) return check();
    const now = Date.now();
    if (!cached || now - cached.at >= ttlMs) {
      const answer = check();
      answer.catch(() => undefined);
      cached = { at: now, answer };
    }
    return cached.answer;
  };
}
