import {
  admit,
  closedBreaker,
  record,
  type BreakerSettings,
  type BreakerState,
} from '../../../../domain/erp/breaker';

const S: BreakerSettings = { errorPercent: 50, volume: 5, resetMs: 60_000, windowMs: 600_000 };

function run(outcomes: boolean[], start = closedBreaker(0), at = 1000) {
  let s: BreakerState = start;
  const transitions: string[] = [];
  for (const ok of outcomes) {
    const a = admit(s, at, S);
    if (!a.allowed) {
      transitions.push('refused');
      continue;
    }
    if (a.transition) transitions.push(a.transition);
    const r = record(a.next, ok, at, S);
    s = r.next;
    if (r.transition) transitions.push(r.transition);
  }
  return { s, transitions };
}

test('opens at 50 % errors once 5 calls were made, not before', () => {
  expect(run([false, false, false, false]).s.state).toBe('closed');
  expect(run([true, true, false, false]).s.state).toBe('closed');
  expect(run([true, true, true, false, false]).s.state).toBe('closed');
  expect(run([true, true, false, false, false]).transitions).toEqual(['open']);
  expect(run([false, false, false, false, false]).s).toMatchObject({ state: 'open', calls: 5, failures: 5 });
});

test('an open breaker refuses until the reset time, then lets one trial through (half-open)', () => {
  const open = run([false, false, false, false, false]).s;
  expect(admit(open, 1000 + 59_999, S)).toEqual({ allowed: false, retryAfterMs: 1 });
  const trial = admit(open, 1000 + 60_000, S);
  expect(trial).toMatchObject({ allowed: true, transition: 'half_open', next: { state: 'half_open' } });
  if (!trial.allowed) throw new Error('unreachable');
  expect(admit(trial.next, 1000 + 60_001, S).allowed).toBe(false);
  expect(record(trial.next, true, 1000 + 60_100, S)).toMatchObject({
    transition: 'close',
    next: { state: 'closed', calls: 0 },
  });
  expect(record(trial.next, false, 1000 + 60_100, S)).toMatchObject({
    transition: 'open',
    next: { state: 'open', openedAt: 61_100 },
  });
});

test('a trial whose worker died expires after the reset time; counts start again after the window', () => {
  const halfOpen: BreakerState = { ...closedBreaker(0), state: 'half_open', trialStartedAt: 0, openedAt: 0 };
  expect(admit(halfOpen, 60_000, S).allowed).toBe(true);
  const counted: BreakerState = { ...closedBreaker(0), calls: 4, failures: 4 };
  const later = admit(counted, 600_000, S);
  expect(later).toMatchObject({ allowed: true, next: { calls: 0, failures: 0, windowStartedAt: 600_000 } });
});
