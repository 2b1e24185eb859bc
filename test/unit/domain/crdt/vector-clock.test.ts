import fc from 'fast-check';
import { compareClocks, mergeClocks, type VectorClock } from '../../../../domain/crdt/vector-clock';

const clockArb: fc.Arbitrary<Record<string, number>> = fc.dictionary(
  fc.constantFrom('d1', 'd2', 'd3', 'd4'),
  fc.nat({ max: 5 }),
  { maxKeys: 4 },
);

/** Clocks equal when missing entries count as 0. */
const normalise = (c: VectorClock) =>
  Object.fromEntries(
    Object.entries(c)
      .filter(([, v]) => v !== 0)
      .sort(),
  );

describe('compareClocks', () => {
  it('tells equal, before, after and concurrent apart', () => {
    expect(compareClocks({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe('equal');
    expect(compareClocks({ a: 1 }, { a: 2 })).toBe('before');
    expect(compareClocks({ a: 2 }, { a: 1 })).toBe('after');
    expect(compareClocks({ a: 1 }, { a: 1, b: 1 })).toBe('before');
    expect(compareClocks({ a: 2, b: 1 }, { a: 1, b: 2 })).toBe('concurrent');
    expect(compareClocks({ a: 1 }, { b: 1 })).toBe('concurrent');
  });

  it('counts a missing entry as 0', () => {
    expect(compareClocks({}, {})).toBe('equal');
    expect(compareClocks({ a: 0 }, {})).toBe('equal');
    expect(compareClocks({}, { a: 1 })).toBe('before');
    expect(compareClocks({ a: 3, b: 0 }, { a: 3 })).toBe('equal');
  });

  it('property: antisymmetric (swapping arguments swaps before/after)', () => {
    const flip = { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' } as const;
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(compareClocks(b, a)).toBe(flip[compareClocks(a, b)]);
      }),
    );
  });

  it('property: equal exactly when the non-zero entries are the same', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(compareClocks(a, b) === 'equal').toBe(
          JSON.stringify(normalise(a)) === JSON.stringify(normalise(b)),
        );
      }),
    );
  });

  it('property: a clock advanced by one of its devices is after the original', () => {
    fc.assert(
      fc.property(clockArb, fc.constantFrom('d1', 'd2', 'd5'), (a, device) => {
        const next = { ...a, [device]: (a[device] ?? 0) + 1 };
        expect(compareClocks(a, next)).toBe('before');
        expect(compareClocks(next, a)).toBe('after');
      }),
    );
  });
});

describe('mergeClocks', () => {
  it('takes the maximum of each entry', () => {
    expect(mergeClocks({ a: 1, b: 5 }, { b: 2, c: 3 })).toEqual({ a: 1, b: 5, c: 3 });
  });

  it('does not modify its inputs', () => {
    const a = { a: 1 };
    const b = { a: 2, b: 1 };
    mergeClocks(a, b);
    expect(a).toEqual({ a: 1 });
    expect(b).toEqual({ a: 2, b: 1 });
  });

  it('property: commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        expect(compareClocks(mergeClocks(a, b), mergeClocks(b, a))).toBe('equal');
        expect(compareClocks(mergeClocks(mergeClocks(a, b), c), mergeClocks(a, mergeClocks(b, c)))).toBe(
          'equal',
        );
        expect(compareClocks(mergeClocks(a, a), a)).toBe('equal');
      }),
    );
  });

  it('property: the merge is the least upper bound (after or equal to both inputs)', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const m = mergeClocks(a, b);
        expect(['after', 'equal']).toContain(compareClocks(m, a));
        expect(['after', 'equal']).toContain(compareClocks(m, b));
        for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
          expect(m[k] ?? 0).toBe(Math.max(a[k] ?? 0, b[k] ?? 0));
        }
      }),
    );
  });
});
