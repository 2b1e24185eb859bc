import {
  closedCircuit,
  msUntilProbe,
  recordFailure,
  recordSuccess,
  tick,
  type CircuitOptions,
  type CircuitState,
} from '../../../../domain/relay/circuit';

const o: CircuitOptions = { failureThreshold: 5, successThreshold: 3, openMs: 60_000 };

function failTimes(c: CircuitState, n: number, at = 0): CircuitState {
  for (let i = 0; i < n; i++) c = recordFailure(c, `boom ${i}`, at, o);
  return c;
}

describe('relay circuit breaker', () => {
  test('CLOSED lets calls through and a success resets the failure count', () => {
    let c = failTimes(closedCircuit(), 4);
    expect(c.state).toBe('CLOSED');
    expect(msUntilProbe(c, 0, o)).toBe(0);
    c = recordSuccess(c, 1, o);
    expect(c).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0, lastSuccessAt: 1 });
    expect(failTimes(c, 4).state).toBe('CLOSED');
  });

  test('5 consecutive failures open it; OPEN refuses calls until the open period is over', () => {
    const c = failTimes(closedCircuit(), 5, 1000);
    expect(c).toMatchObject({ state: 'OPEN', openedAt: 1000, consecutiveFailures: 5, lastError: 'boom 4' });
    expect(msUntilProbe(c, 1000 + 59_999, o)).toBe(1);
    expect(tick(c, 1000 + 59_999, o).state).toBe('OPEN');
    expect(msUntilProbe(c, 1000 + 30_000, o)).toBe(30_000);
  });

  test('after the open period it is HALF_OPEN; 3 successes close it', () => {
    let c = failTimes(closedCircuit(), 5, 0);
    expect(tick(c, 60_000, o).state).toBe('HALF_OPEN');
    expect(msUntilProbe(c, 60_000, o)).toBe(0);
    c = recordSuccess(c, 60_000, o);
    expect(c).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 1 });
    c = recordSuccess(c, 60_001, o);
    expect(c.state).toBe('HALF_OPEN');
    c = recordSuccess(c, 60_002, o);
    expect(c).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0, openedAt: null });
  });

  test('a failure while HALF_OPEN opens it again for a full period', () => {
    let c = failTimes(closedCircuit(), 5, 0);
    c = recordSuccess(c, 60_000, o);
    c = recordFailure(c, 'still down', 61_000, o);
    expect(c).toMatchObject({
      state: 'OPEN',
      openedAt: 61_000,
      halfOpenSuccesses: 0,
      lastError: 'still down',
    });
    expect(tick(c, 61_000 + 59_999, o).state).toBe('OPEN');
    expect(tick(c, 61_000 + 60_000, o).state).toBe('HALF_OPEN');
  });

  test('thresholds are configurable', () => {
    const quick: CircuitOptions = { failureThreshold: 2, successThreshold: 1, openMs: 10 };
    let c = recordFailure(recordFailure(closedCircuit(), 'a', 0, quick), 'b', 0, quick);
    expect(c.state).toBe('OPEN');
    c = recordSuccess(c, 10, quick);
    expect(c.state).toBe('CLOSED');
  });
});
