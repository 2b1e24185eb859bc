import { FiscalRangeLife } from '../../../workflows/fiscal-range';

test('a range is active until its wait ends; a used last number ends it exhausted, the clock expired', () => {
  const timedOut = new FiscalRangeLife();
  expect(timedOut.state).toBe('active');
  expect(timedOut.finish()).toBe('expired');

  const usedUp = new FiscalRangeLife();
  usedUp.exhaust();
  expect(usedUp.exhausted).toBe(true);
  expect(usedUp.state).toBe('active');
  expect(usedUp.finish()).toBe('exhausted');
  expect(usedUp.state).toBe('exhausted');
});
