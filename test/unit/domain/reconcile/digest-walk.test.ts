import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  addConflicts,
  differingBuckets,
  diffLeaves,
  emptyResult,
  entityOf,
  MAX_CONFLICTS_LISTED,
  sameDigest,
  sumResults,
  walkDiff,
  type DigestSource,
} from '../../../../domain/reconcile/digest-walk';
import { type Bucket, type Leaf } from '../../../../domain/reconcile/digest-tree';
import { eventDigest, xorInto } from '../../../../domain/events/hash';

// The digest walk over two in-memory logs whose tree is built exactly like the database's (count
// and XOR of sha256(id ‖ hash) per UTC day, hour and id-prefix bucket), so the diff logic is checked
// without PostgreSQL or HTTP.

interface Ev {
  id: string;
  hash: string;
  at: string;
}

const hex = (n: number) => n.toString(16).padStart(64, '0');

class MemoryLog implements DigestSource {
  /** What the walk asked for, e.g. `leaves:3` (how many buckets). */
  calls: string[] = [];
  /** Leaves handed out, summed over every listing (the walk's dominant cost). */
  listed = 0;

  constructor(readonly events: Ev[]) {}

  private group(events: Ev[], keyOf: (e: Ev) => string): Bucket[] {
    const buckets = new Map<string, { count: number; digest: Buffer }>();
    for (const e of events) {
      const key = keyOf(e);
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = { count: 0, digest: Buffer.alloc(32) }));
      b.count += 1;
      xorInto(b.digest, eventDigest(e.id, e.hash));
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, b]) => ({ key, count: b.count, digest: b.digest.toString('hex') }));
  }

  private inBucket(e: Ev, key: string): boolean {
    const [hour, prefix = ''] = key.split('/');
    return e.at.slice(0, 13) === hour && e.id.startsWith(prefix);
  }

  async root() {
    this.calls.push('root');
    const [b] = this.group(this.events, () => 'root');
    return { count: b?.count ?? 0, digest: b?.digest ?? hex(0) };
  }
  async days() {
    this.calls.push('days');
    return this.group(this.events, (e) => e.at.slice(0, 10));
  }
  async hours(days: string[]) {
    this.calls.push(`hours:${days.length}`);
    return this.group(
      this.events.filter((e) => days.includes(e.at.slice(0, 10))),
      (e) => e.at.slice(0, 13),
    );
  }
  async split(parents: string[]) {
    this.calls.push(`split:${parents.length}`);
    const out: Bucket[] = [];
    for (const parent of parents) {
      const depth = parent.includes('/') ? parent.length - parent.indexOf('/') : 1;
      const hour = parent.slice(0, 13);
      out.push(
        ...this.group(
          this.events.filter((e) => this.inBucket(e, parent)),
          (e) => `${hour}/${e.id.slice(0, depth)}`,
        ),
      );
    }
    return out;
  }
  async leaves(keys: string[]) {
    this.calls.push(`leaves:${keys.length}`);
    const out: Leaf[] = this.events
      .filter((e) => keys.some((k) => this.inBucket(e, k)))
      .map((e) => [e.id, e.hash]);
    this.listed += out.length;
    return out;
  }
}

const START = Date.parse('2026-01-01T00:00:00Z');

/** `n` events spread evenly over `days` days. */
function makeLog(n: number, days: number): Ev[] {
  const span = days * 86_400_000;
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    hash: hex(i + 1),
    at: new Date(START + Math.floor((i * span) / n)).toISOString(),
  }));
}

const sorted = (ids: string[]) => [...ids].sort();

describe('walkDiff', () => {
  test('equal logs cost one request on each side: the roots', async () => {
    const events = makeLog(2000, 30);
    const local = new MemoryLog(events);
    const remote = new MemoryLog([...events].reverse());

    const diff = await walkDiff(local, remote);

    expect(diff).toEqual({
      inSync: true,
      missingHere: [],
      missingThere: [],
      conflicts: [],
      truncated: false,
    });
    expect(remote.calls).toEqual(['root']);
  });

  test('one event missing in a busy log: found by splitting its hour, not by listing it', async () => {
    const events = makeLog(20_000, 10); // ~83 events per hour
    const lost = events[12_345]!;
    const local = new MemoryLog(events);
    const remote = new MemoryLog(events.filter((e) => e !== lost));

    const diff = await walkDiff(local, remote, { leafSize: 16 });

    expect(diff).toMatchObject({ inSync: false, missingHere: [], missingThere: [lost.id], conflicts: [] });
    // root, days, hours of one day, the hour split 16 ways, one bucket of ~5 events listed.
    expect(remote.calls).toEqual(['root', 'days', 'hours:1', 'split:1', 'leaves:1']);
    expect(remote.listed).toBeLessThan(16);
  });

  test('missing on either side and same id with another payload: each in its list', async () => {
    const base = makeLog(3000, 5);
    const onlyHere = base.slice(0, 3);
    const onlyThere = makeLog(4, 5).map((e) => ({ ...e, hash: hex(99_000) }));
    const changed = base[1500]!;
    const local = new MemoryLog(base);
    const remote = new MemoryLog([
      ...base.filter((e) => !onlyHere.includes(e) && e !== changed),
      { ...changed, hash: hex(123_456) },
      ...onlyThere,
    ]);

    const diff = await walkDiff(local, remote, { leafSize: 8 });

    expect(diff.missingThere).toEqual(sorted(onlyHere.map((e) => e.id)));
    expect(diff.missingHere).toEqual(sorted(onlyThere.map((e) => e.id)));
    expect(diff.conflicts).toEqual([changed.id]);
    expect(diff.truncated).toBe(false);
  });

  test('a day only the peer has is listed whole, without splitting', async () => {
    const shared = makeLog(500, 3);
    const extra = makeLog(300, 1).map((e) => ({ ...e, at: e.at.replace('2026-01-01', '2026-02-01') }));
    const local = new MemoryLog(shared);
    const remote = new MemoryLog([...shared, ...extra]);

    const diff = await walkDiff(local, remote, { leafSize: 8 });

    expect(diff.missingHere).toEqual(sorted(extra.map((e) => e.id)));
    expect(remote.calls.filter((c) => c.startsWith('split'))).toEqual([]);
    expect(remote.listed).toBe(300);
  });

  test('an empty side: every event of the other is missing', async () => {
    const events = makeLog(120, 2);

    const diff = await walkDiff(new MemoryLog([]), new MemoryLog(events));

    expect(diff.missingHere).toEqual(sorted(events.map((e) => e.id)));
    expect(diff.missingThere).toEqual([]);
  });

  test('the walk stops at maxIds; walking again after the repair finds the rest', async () => {
    const events = makeLog(400, 4);
    const missing = events.filter((_, i) => i % 8 === 0); // 50, spread over every hour
    const local = new MemoryLog(events.filter((e) => !missing.includes(e)));
    const remote = new MemoryLog(events);

    const first = await walkDiff(local, remote, { maxIds: 20 });
    expect(first.truncated).toBe(true);
    expect(first.missingHere).toHaveLength(20);

    local.events.push(...events.filter((e) => first.missingHere.includes(e.id)));
    const found = new Set(first.missingHere);
    for (let round = 0; round < 5; round++) {
      const next = await walkDiff(local, remote, { maxIds: 20 });
      if (next.inSync) break;
      next.missingHere.forEach((id) => found.add(id));
      local.events.push(...events.filter((e) => next.missingHere.includes(e.id)));
    }
    expect(sorted([...found])).toEqual(sorted(missing.map((e) => e.id)));
    expect((await walkDiff(local, remote)).inSync).toBe(true);
  });

  test('property: the walk finds exactly the set differences and the conflicts, whatever the tuning', async () => {
    const event = fc.record({
      n: fc.integer({ min: 0, max: 2 ** 31 }),
      minute: fc.integer({ min: 0, max: 3 * 24 * 60 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 300 }),
        fc.array(fc.constantFrom('both', 'here', 'there', 'conflict'), { maxLength: 300 }),
        fc.record({
          leafSize: fc.integer({ min: 1, max: 50 }),
          maxSplitDepth: fc.integer({ min: 0, max: 4 }),
        }),
        async (raw, placement, tuning) => {
          const seen = new Set<string>();
          const events = raw
            .map(({ n, minute }) => ({
              id: `${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
              hash: hex(n),
              at: new Date(START + minute * 60_000).toISOString(),
            }))
            .filter((e) => !seen.has(e.id) && seen.add(e.id));
          const here: Ev[] = [];
          const there: Ev[] = [];
          const truth = {
            missingHere: [] as string[],
            missingThere: [] as string[],
            conflicts: [] as string[],
          };
          events.forEach((e, i) => {
            const where = placement[i % Math.max(1, placement.length)] ?? 'both';
            if (where !== 'there') here.push(e);
            if (where === 'both') there.push(e);
            if (where === 'there') there.push(e);
            if (where === 'here') truth.missingThere.push(e.id);
            if (where === 'there') truth.missingHere.push(e.id);
            if (where === 'conflict') {
              there.push({ ...e, hash: 'f'.repeat(64) });
              truth.conflicts.push(e.id);
            }
          });

          const diff = await walkDiff(new MemoryLog(here), new MemoryLog(there), {
            ...tuning,
            eventsPerListing: 40,
            keysPerRequest: 3,
            daysPerRequest: 1,
          });

          expect(diff.missingHere).toEqual(sorted(truth.missingHere));
          expect(diff.missingThere).toEqual(sorted(truth.missingThere));
          expect(diff.conflicts).toEqual(sorted(truth.conflicts));
          const differences = truth.missingHere.length + truth.missingThere.length + truth.conflicts.length;
          expect(diff.inSync).toBe(differences === 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('bucket and leaf comparison', () => {
  test('differingBuckets: changed digest, changed count, one-sided; equal ones left out', () => {
    const b = (key: string, count: number, d: number): Bucket => ({ key, count, digest: hex(d) });
    expect(
      differingBuckets(
        [b('2026-01-01', 3, 1), b('2026-01-02', 3, 2), b('2026-01-03', 3, 3), b('2026-01-05', 1, 5)],
        [b('2026-01-01', 3, 1), b('2026-01-02', 3, 9), b('2026-01-03', 4, 3), b('2026-01-04', 2, 4)],
      ),
    ).toEqual([
      { key: '2026-01-02', local: 3, remote: 3 },
      { key: '2026-01-03', local: 3, remote: 4 },
      { key: '2026-01-04', local: 0, remote: 2 },
      { key: '2026-01-05', local: 1, remote: 0 },
    ]);
  });

  test('diffLeaves', () => {
    expect(
      diffLeaves(
        [
          ['a', hex(1)],
          ['b', hex(2)],
          ['c', hex(3)],
        ],
        [
          ['b', hex(2)],
          ['c', hex(4)],
          ['d', hex(5)],
        ],
      ),
    ).toEqual({ missingHere: ['d'], missingThere: ['a'], conflicts: ['c'] });
  });

  test('a peer may send digests and hashes shortened to 16 hex digits: compared on the common prefix', () => {
    const full = 'ab'.repeat(32);
    expect(sameDigest(full, full.slice(0, 16))).toBe(true);
    expect(sameDigest(full, `${full.slice(0, 15)}0`)).toBe(false);
    expect(sameDigest(full, full.slice(0, 8))).toBe(false);
    expect(
      differingBuckets(
        [{ key: 'k', count: 2, digest: full }],
        [{ key: 'k', count: 2, digest: full.slice(0, 16) }],
      ),
    ).toEqual([]);
    expect(diffLeaves([['x', full]], [['x', full.slice(0, 16)]])).toEqual({
      missingHere: [],
      missingThere: [],
      conflicts: [],
    });
  });
});

describe('results', () => {
  test('event types count under their entities; node-made and unknown types under other', () => {
    expect(entityOf('SaleCreated')).toBe('sales');
    expect(entityOf('SaleVoided')).toBe('sales');
    expect(entityOf('DebtCreated')).toBe('debts');
    expect(entityOf('DebtPaymentAdded')).toBe('debtPayments');
    expect(entityOf('CashLedgerEntryCreated')).toBe('sessions');
    expect(entityOf('StockDeltaApplied')).toBe('stock');
    expect(entityOf('ProductUpdated')).toBe('products');
    expect(entityOf('CustomerCreated')).toBe('customers');
    expect(entityOf('FiscalRangeGranted')).toBe('other');
  });

  test('results add up across peers; conflicts are kept once, sorted and bounded', () => {
    const a = emptyResult();
    a.sales.localMissingCount = 2;
    a.roundTrips = 3;
    a.bytes = 100;
    a.conflicts = ['b'];
    const b = emptyResult();
    b.sales.localMissingCount = 1;
    b.debts.replayedToRemote = 4;
    b.roundTrips = 1;
    b.bytes = 50;
    b.conflicts = ['a', 'b'];

    const total = sumResults([a, b]);

    expect(total.sales.localMissingCount).toBe(3);
    expect(total.debts.replayedToRemote).toBe(4);
    expect(total).toMatchObject({ roundTrips: 4, bytes: 150, conflicts: ['a', 'b'] });

    addConflicts(
      total,
      Array.from({ length: MAX_CONFLICTS_LISTED + 10 }, (_, i) => `id-${i}`),
    );
    expect(total.conflicts).toHaveLength(MAX_CONFLICTS_LISTED);
  });
});
