import fc from 'fast-check';
import { boundedStamp } from '../../../../domain/crdt/hlc';
import { applyWrite, stampOf, type LwwState } from '../../../../domain/crdt/lww';
import { compareClocks, mergeClocks, type VectorClock } from '../../../../domain/crdt/vector-clock';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const SKEW = 5 * 60_000;

describe('boundedStamp', () => {
  it('keeps a sane device clock as it is', () => {
    const at = new Date(NOW - 3000);
    expect(boundedStamp(at, new Date(NOW), SKEW, null)).toEqual({ hlc: at, adjusted: null });
  });

  it('clamps a clock ahead of the node by more than the skew (a tablet set to 2099)', () => {
    const s = boundedStamp(new Date('2099-01-01T00:00:00Z'), new Date(NOW), SKEW, null);
    expect(s).toEqual({ hlc: new Date(NOW + SKEW), adjusted: 'ahead-of-node-clock' });
  });

  it('puts a write after everything it has seen, whatever its own clock says', () => {
    const floor = new Date(NOW + SKEW);
    const s = boundedStamp(new Date(NOW - 60_000), new Date(NOW), SKEW, floor);
    expect(s).toEqual({ hlc: new Date(NOW + SKEW + 1), adjusted: 'behind-causal-past' });
  });
});

/**
 * Devices with arbitrary clocks (years 1970 to 2200) write one register; each write has seen a
 * random subset of earlier writes (its vector clock). Every write is stamped where it enters (the
 * node's clock advancing as they arrive), as ingest does; then the writes are applied in random
 * orders. The result is the same in every order, a write always beats every write it has seen, and
 * no stamp runs more than the skew ahead of the node's clock (plus one ms per causal step).
 */
describe('convergence with arbitrary device clocks', () => {
  interface Write {
    event_id: string;
    device: string;
    clock: VectorClock;
    createdAt: Date;
    value: number;
  }

  const scenario = fc
    .array(
      fc.record({
        device: fc.constantFrom('d1', 'd2', 'd3'),
        createdAt: fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) }),
        seen: fc.array(fc.nat(), { maxLength: 4 }),
        value: fc.integer(),
      }),
      { minLength: 1, maxLength: 25 },
    )
    .map((specs) => {
      const writes: Write[] = [];
      const seqs: Record<string, number> = {};
      specs.forEach((spec, i) => {
        seqs[spec.device] = (seqs[spec.device] ?? 0) + 1;
        // Its own earlier writes, plus whatever earlier writes of others it pulled.
        const clock: Record<string, number> = {};
        for (const w of writes) {
          if (w.device === spec.device) Object.assign(clock, mergeClocks(clock, w.clock));
        }
        for (const j of spec.seen) {
          const w = writes[j % Math.max(writes.length, 1)];
          if (w) Object.assign(clock, mergeClocks(clock, w.clock));
        }
        clock[spec.device] = seqs[spec.device]!;
        writes.push({
          event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          device: spec.device,
          clock,
          createdAt: new Date(spec.createdAt),
          value: spec.value,
        });
      });
      return writes;
    });

  it('same register in every order; causally later writes win; stamps stay bounded', () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (writes, seeds) => {
        // Stamped at one node in arrival (causal) order, its clock moving 10 ms per event.
        const stamps = new Map<string, string>();
        const hlcs: Date[] = [];
        writes.forEach((w, i) => {
          const now = new Date(NOW + i * 10);
          let floor: Date | null = null;
          writes.slice(0, i).forEach((earlier, j) => {
            if (compareClocks(earlier.clock, w.clock) === 'before' && (!floor || hlcs[j]! > floor)) {
              floor = hlcs[j]!;
            }
          });
          const { hlc } = boundedStamp(w.createdAt, now, SKEW, floor);
          expect(hlc.getTime()).toBeLessThanOrEqual(now.getTime() + SKEW + i + 1);
          hlcs.push(hlc);
          stamps.set(
            w.event_id,
            stampOf({ event_id: w.event_id, device_id: w.device, origin_node: 'local', hlc }),
          );
        });
        const results = seeds.map((seed) => {
          const state: LwwState = { values: {}, stamps: {} };
          for (const w of shuffle(writes, seed))
            applyWrite(state, { price: w.value }, stamps.get(w.event_id)!);
          return state;
        });
        for (const r of results) expect(r).toEqual(results[0]);
        // A causally later write always wins: no write has seen the winner.
        const winner = writes.find((w) => stamps.get(w.event_id) === results[0]!.stamps.price)!;
        for (const w of writes) {
          if (w !== winner) expect(compareClocks(winner.clock, w.clock)).not.toBe('before');
        }
      }),
      { numRuns: 300 },
    );
  });

  function shuffle<T>(items: T[], seed: number): T[] {
    const out = [...items];
    let x = seed + 1;
    for (let i = out.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const j = x % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
});
