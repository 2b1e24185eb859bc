import { describeDebtDifference, differingBuckets, differingDebts } from '../../../../domain/health/debts';
import type { DebtState } from '../../../../domain/wire/peer-protocol';

const debt = (id: string, remaining: string, payments: number, digest = `${id}:${remaining}`): DebtState => ({
  debt_id: id,
  customer_id: 'c1',
  total_amount: '100.00',
  remaining_amount: remaining,
  payments,
  digest,
});

describe('differingBuckets', () => {
  it('lists buckets whose count or digest differ, and those only one side has, in key order', () => {
    expect(
      differingBuckets(
        [
          ['00', 2, 'aa'],
          ['0a', 1, 'bb'],
          ['ff', 1, 'cc'],
        ],
        [
          ['00', 2, 'aa'],
          ['0a', 1, 'bx'],
          ['1b', 3, 'dd'],
        ],
      ),
    ).toEqual(['0a', '1b', 'ff']);
  });

  it('is empty for equal buckets', () => {
    expect(differingBuckets([['00', 1, 'aa']], [['00', 1, 'aa']])).toEqual([]);
  });
});

describe('differingDebts', () => {
  it('keeps debts whose state differs or that one side lacks, by id', () => {
    const here = [debt('a', '70.00', 1), debt('b', '10.00', 0), debt('d', '5.00', 0)];
    const there = [debt('a', '100.00', 0), debt('b', '10.00', 0), debt('c', '1.00', 0)];
    expect(differingDebts(here, there)).toEqual([
      { debt_id: 'a', customer_id: 'c1', here: here[0], there: there[0] },
      { debt_id: 'c', customer_id: 'c1', here: null, there: there[2] },
      { debt_id: 'd', customer_id: 'c1', here: here[2], there: null },
    ]);
  });
});

describe('describeDebtDifference', () => {
  it('names the debt, the customer, both amounts and both nodes', () => {
    const [d] = differingDebts([debt('a', '70.00', 1)], [debt('a', '100.00', 0)]);
    expect(describeDebtDifference(d!, 'shop', 'cloud')).toBe(
      'debt a of customer c1 differs between nodes: remaining 70.00 of 100.00, 1 payment here (node shop), ' +
        'remaining 100.00 of 100.00, 0 payments on node cloud',
    );
    const [missing] = differingDebts([], [debt('b', '12.50', 2)]);
    expect(describeDebtDifference(missing!, 'shop', 'cloud')).toBe(
      'debt b of customer c1 is on node cloud (remaining 12.50 of 100.00, 2 payments) but not here (node shop)',
    );
  });
});
