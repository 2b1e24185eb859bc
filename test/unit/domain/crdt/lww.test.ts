import fc from 'fast-check';
import { applyWrite, stampEventId, stampOf, type LwwState } from '../../../../domain/crdt/lww';

interface Write {
  fields: Record<string, unknown>;
  stamp: string;
}

const FIELDS = ['name', 'price', 'active', 'sku'] as const;

const uuidArb = fc.uuid({ version: 4 });
const writeArb: fc.Arbitrary<Write> = fc
  .record({
    ms: fc.integer({ min: 0, max: 5 }),
    node: fc.constantFrom('cloud', 'local', 'local-2'),
    device: fc.constantFrom('dev-a', 'dev-b', 'dev-c'),
    event_id: uuidArb,
    fields: fc.record(
      {
        name: fc.string({ maxLength: 4 }),
        price: fc.integer({ min: 0, max: 100 }),
        active: fc.boolean(),
        sku: fc.option(fc.string({ maxLength: 3 }), { nil: null }),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ ms, node, device, event_id, fields }) => ({
    fields,
    stamp: stampOf({
      event_id,
      device_id: device,
      origin_node: node,
      hlc: new Date(Date.UTC(2026, 10, 20, 12, 0, 0, ms)),
    }),
  }));

function replay(writes: Write[]): LwwState {
  const state: LwwState = { values: {}, stamps: {} };
  for (const w of writes) applyWrite(state, w.fields, w.stamp);
  return state;
}

/** Reference semantics: each field holds the value of the greatest stamp that wrote it. */
function expected(writes: Write[]): LwwState {
  const state: LwwState = { values: {}, stamps: {} };
  for (const field of FIELDS) {
    const writers = writes
      .filter((w) => w.fields[field] !== undefined)
      .sort((a, b) => (a.stamp < b.stamp ? 1 : -1));
    if (writers[0]) {
      state.values[field] = writers[0].fields[field];
      state.stamps[field] = writers[0].stamp;
    }
  }
  return state;
}

describe('stampOf', () => {
  const base = {
    event_id: '00000000-0000-4000-8000-000000000002',
    device_id: 'dev-a',
    origin_node: 'local',
    hlc: new Date('2026-11-20T12:00:00.000Z'),
  };

  it('orders by time first, then origin node, then device, then event id', () => {
    const later = stampOf({ ...base, hlc: new Date('2026-11-20T12:00:00.001Z'), origin_node: 'a' });
    expect(later > stampOf(base)).toBe(true);
    expect(stampOf({ ...base, origin_node: 'm' }) > stampOf(base)).toBe(true);
    expect(stampOf({ ...base, device_id: 'dev-b' }) > stampOf(base)).toBe(true);
    expect(stampOf({ ...base, event_id: '00000000-0000-4000-8000-000000000003' }) > stampOf(base)).toBe(true);
  });

  it('ends with the lower-cased event id, which stampEventId recovers', () => {
    const stamp = stampOf({ ...base, event_id: base.event_id.toUpperCase() });
    expect(stamp).toBe(stampOf(base));
    expect(stampEventId(stamp)).toBe(base.event_id);
  });
});

describe('applyWrite', () => {
  const s1 = stampOf({
    event_id: '00000000-0000-4000-8000-000000000001',
    device_id: 'a',
    origin_node: 'n',
    hlc: new Date('2026-11-20T12:00:00.000Z'),
  });
  const s2 = stampOf({
    event_id: '00000000-0000-4000-8000-000000000002',
    device_id: 'a',
    origin_node: 'n',
    hlc: new Date('2026-11-20T12:00:01.000Z'),
  });

  it('keeps, per field, the value with the greatest stamp and reports who met whom', () => {
    const state: LwwState = { values: {}, stamps: {} };
    expect(applyWrite(state, { name: 'new', price: 2 }, s2)).toEqual([
      { field: 'name', previous: undefined, won: true },
      { field: 'price', previous: undefined, won: true },
    ]);
    expect(applyWrite(state, { name: 'old', sku: 'S' }, s1)).toEqual([
      { field: 'name', previous: s2, won: false },
      { field: 'sku', previous: undefined, won: true },
    ]);
    expect(state.values).toEqual({ name: 'new', price: 2, sku: 'S' });
    expect(state.stamps).toEqual({ name: s2, price: s2, sku: s1 });
  });

  it('skips undefined fields but writes null', () => {
    const state: LwwState = { values: { sku: 'S' }, stamps: { sku: s1 } };
    const outcomes = applyWrite(state, { sku: null, name: undefined }, s2);
    expect(outcomes).toEqual([{ field: 'sku', previous: s1, won: true }]);
    expect(state.values).toEqual({ sku: null });
    expect('name' in state.stamps).toBe(false);
  });

  it('re-applying the same write changes nothing and does not claim a win', () => {
    const state: LwwState = { values: {}, stamps: {} };
    applyWrite(state, { name: 'x' }, s1);
    expect(applyWrite(state, { name: 'x' }, s1)).toEqual([{ field: 'name', previous: s1, won: false }]);
    expect(state).toEqual({ values: { name: 'x' }, stamps: { name: s1 } });
  });

  it('property: any order of the same writes gives the same state (commutative, associative)', () => {
    fc.assert(
      fc.property(
        fc
          .array(writeArb, { maxLength: 12 })
          .chain((writes) =>
            fc.tuple(
              fc.constant(writes),
              fc.shuffledSubarray(writes, { minLength: writes.length, maxLength: writes.length }),
            ),
          ),
        ([writes, shuffled]) => {
          const a = replay(writes);
          expect(replay(shuffled)).toEqual(a);
          expect(a).toEqual(expected(writes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: idempotent (duplicates of writes change nothing)', () => {
    fc.assert(
      fc.property(
        fc.array(writeArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (writes, dupes) => {
          const withDuplicates = [...writes];
          for (const d of dupes)
            withDuplicates.splice(d % (withDuplicates.length + 1), 0, writes[d % writes.length]!);
          expect(replay(withDuplicates)).toEqual(replay(writes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: merging two replicas that saw disjoint writes equals one replica that saw all', () => {
    fc.assert(
      fc.property(
        fc.array(writeArb, { maxLength: 8 }),
        fc.array(writeArb, { maxLength: 8 }),
        (left, right) => {
          const merged = replay(left);
          const other = replay(right);
          // Merging state = replaying the other replica's registers as writes.
          for (const [field, stamp] of Object.entries(other.stamps)) {
            applyWrite(merged, { [field]: other.values[field] }, stamp);
          }
          expect(merged).toEqual(replay([...right, ...left]));
        },
      ),
      { numRuns: 200 },
    );
  });
});
