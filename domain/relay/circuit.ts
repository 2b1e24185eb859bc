/**
 * The relay's circuit breaker as plain data and pure transitions, so it lives durably in the PeerRelay
 * actor's state (domain/relay/peer-relay.ts) and is unit-tested without Temporal.
 *
 * CLOSED: calls pass. `failureThreshold` consecutive failures → OPEN.
 * OPEN: no calls until `openMs` have passed → HALF_OPEN.
 * HALF_OPEN: calls pass as probes; a failure → OPEN again; `successThreshold` successes → CLOSED.
 */
export type CircuitStateName = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface CircuitOptions {
  failureThreshold: number;
  successThreshold: number;
  openMs: number;
}

export interface CircuitState {
  state: CircuitStateName;
  consecutiveFailures: number;
  halfOpenSuccesses: number;
  openedAt: number | null;
  lastError: string | null;
  lastFailureAt: number | null;
  lastSuccessAt: number | null;
}

export function closedCircuit(): CircuitState {
  return {
    state: 'CLOSED',
    consecutiveFailures: 0,
    halfOpenSuccesses: 0,
    openedAt: null,
    lastError: null,
    lastFailureAt: null,
    lastSuccessAt: null,
  };
}

/** Moves OPEN to HALF_OPEN once the open period is over; otherwise returns the state unchanged. */
export function tick(c: CircuitState, now: number, o: CircuitOptions): CircuitState {
  if (c.state === 'OPEN' && c.openedAt !== null && now - c.openedAt >= o.openMs) {
    return { ...c, state: 'HALF_OPEN', halfOpenSuccesses: 0 };
  }
  return c;
}

/** Milliseconds until an OPEN circuit lets a probe through (0 if it already does). */
export function msUntilProbe(c: CircuitState, now: number, o: CircuitOptions): number {
  if (c.state !== 'OPEN' || c.openedAt === null) return 0;
  return Math.max(0, c.openedAt + o.openMs - now);
}

export function recordSuccess(c: CircuitState, now: number, o: CircuitOptions): CircuitState {
  const t = tick(c, now, o);
  if (t.state === 'HALF_OPEN') {
    const successes = t.halfOpenSuccesses + 1;
    if (successes >= o.successThreshold) {
      return {
        ...t,
        state: 'CLOSED',
        consecutiveFailures: 0,
        halfOpenSuccesses: 0,
        openedAt: null,
        lastSuccessAt: now,
      };
    }
    return { ...t, halfOpenSuccesses: successes, consecutiveFailures: 0, lastSuccessAt: now };
  }
  return { ...t, consecutiveFailures: 0, lastSuccessAt: now };
}

export function recordFailure(c: CircuitState, error: string, now: number, o: CircuitOptions): CircuitState {
  const t = tick(c, now, o);
  const failures = t.consecutiveFailures + 1;
  const base = { ...t, consecutiveFailures: failures, lastError: error, lastFailureAt: now };
  if (t.state === 'HALF_OPEN' || failures >= o.failureThreshold) {
    return { ...base, state: 'OPEN', openedAt: now, halfOpenSuccesses: 0 };
  }
  return base;
}
