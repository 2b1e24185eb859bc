// Circuit breaker decisions per vendor and API type (the seed's opossum settings: 50 % errors over at
// least 5 calls opens, half-open after 60 s). Pure: the state is a row (infra/repositories/
// erp-circuit-breakers.ts) that every worker reads and updates under a row lock, so one breaker
// holds for the whole node, not one per process. Times are epoch milliseconds.

export type BreakerStateName = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  errorPercent: number;
  volume: number;
  resetMs: number;
  /** Calls are counted over a window this long; a closed breaker starts counting again after it. */
  windowMs: number;
}

export interface BreakerState {
  state: BreakerStateName;
  calls: number;
  failures: number;
  windowStartedAt: number;
  openedAt: number | null;
  /** The half-open trial call under way, if any (one at a time). */
  trialStartedAt: number | null;
}

export type Transition = 'open' | 'half_open' | 'close';

export const closedBreaker = (now: number): BreakerState => ({
  state: 'closed',
  calls: 0,
  failures: 0,
  windowStartedAt: now,
  openedAt: null,
  trialStartedAt: null,
});

export type Admission =
  { allowed: true; next: BreakerState; transition?: Transition } | { allowed: false; retryAfterMs: number };

/** May a call go out now? An open breaker lets one trial through once the reset time has passed. */
export function admit(s: BreakerState, now: number, o: BreakerSettings): Admission {
  if (s.state === 'closed') {
    const expired = now - s.windowStartedAt >= o.windowMs;
    return { allowed: true, next: expired ? closedBreaker(now) : s };
  }
  if (s.state === 'open') {
    const waited = now - (s.openedAt ?? now);
    if (waited < o.resetMs) return { allowed: false, retryAfterMs: o.resetMs - waited };
    return {
      allowed: true,
      next: { ...s, state: 'half_open', trialStartedAt: now },
      transition: 'half_open',
    };
  }
  // Half-open: one trial at a time; a trial that never reported (its worker died) expires.
  if (s.trialStartedAt !== null && now - s.trialStartedAt < o.resetMs) {
    return { allowed: false, retryAfterMs: o.resetMs - (now - s.trialStartedAt) };
  }
  return { allowed: true, next: { ...s, trialStartedAt: now } };
}

/** The breaker after a call's outcome. */
export function record(
  s: BreakerState,
  ok: boolean,
  now: number,
  o: BreakerSettings,
): { next: BreakerState; transition?: Transition } {
  if (s.state === 'half_open') {
    return ok
      ? { next: closedBreaker(now), transition: 'close' }
      : { next: { ...s, state: 'open', openedAt: now, trialStartedAt: null }, transition: 'open' };
  }
  if (s.state === 'open') return { next: s };
  const calls = s.calls + 1;
  const failures = s.failures + (ok ? 0 : 1);
  if (calls >= o.volume && failures * 100 >= o.errorPercent * calls) {
    return {
      next: { ...s, state: 'open', calls, failures, openedAt: now, trialStartedAt: null },
      transition: 'open',
    };
  }
  return { next: { ...s, calls, failures } };
}
