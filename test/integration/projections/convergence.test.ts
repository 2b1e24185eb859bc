import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import {
  assertSameTables as assertSameTablesOf,
  debtDivergence,
  push,
  stockDivergence,
  clearAll,
} from '../../support/projections';
import {
  buildEvents,
  describeWorkload,
  expectedDebts,
  expectedStock,
  voidedSaleIds,
  workloadArb as workloadOf,
  type Workload,
} from '../../support/workload';
import type { Db } from '../../../infra/db';
import type { SyncEvent } from '../../../domain/events/schemas';

// The projection rules must converge: the same multiset of events, delivered in any order, in any
// batching and with any re-sends, gives identical read models. Two databases receive one random
// workload in two random deliveries; every projection table must match, row for row. The workload
// (commands and their events) is test/support/workload.ts, shared with the two-node partition test.

const MAX_COMMANDS = 200;

const workloadArb: fc.Arbitrary<Workload> = workloadOf({ stores: 2, devices: 3, maxCommands: MAX_COMMANDS });

/**
 * How one database receives the events. Independent of the workload's length, so fast-check can
 * shrink the workload while keeping the delivery: event i is delivered in the order of sortKeys[i].
 */
interface Delivery {
  sortKeys: number[];
  /** Copies of events re-sent at some position of the delivery (lost acknowledgements). */
  resends: { event: number; at: number }[];
  /** Batch sizes, used in turn until every event is delivered. */
  batches: number[];
}

const deliveryArb: fc.Arbitrary<Delivery> = fc.record({
  sortKeys: fc.array(fc.nat({ max: 999 }), { minLength: MAX_COMMANDS, maxLength: MAX_COMMANDS }),
  resends: fc.array(fc.record({ event: fc.nat({ max: MAX_COMMANDS }), at: fc.nat({ max: MAX_COMMANDS }) }), {
    maxLength: 12,
  }),
  batches: fc.array(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 50 })), {
    minLength: 1,
    maxLength: 8,
  }),
});

interface Run {
  workload: Workload;
  deliveryA: Delivery;
  deliveryB: Delivery;
}

const runArb: fc.Arbitrary<Run> = fc
  .record({ workload: workloadArb, deliveryA: deliveryArb, deliveryB: deliveryArb })
  .map((r) => Object.assign(r, { [fc.toStringMethod]: () => describeRun(r) }));

/** A failing run, readable: numbered commands, then each delivery as its batches of event numbers. */
function describeRun(r: Run): string {
  const { lines, events: n } = describeWorkload(r.workload);
  const batches = (d: Delivery) =>
    schedule(n, d)
      .map((b) => `[${b.join(',')}]`)
      .join(' ');
  return (
    `${n} events:\n${lines.join('\n')}\n` +
    `  delivery A: ${batches(r.deliveryA)}\n  delivery B: ${batches(r.deliveryB)}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// Delivery and checks

/** The delivery as batches of event indices. */
function schedule(n: number, d: Delivery): number[][] {
  const sequence = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => d.sortKeys[x]! - d.sortKeys[y]! || x - y,
  );
  if (n > 0) for (const r of d.resends) sequence.splice(Math.min(r.at, sequence.length), 0, r.event % n);
  const batches: number[][] = [];
  for (let i = 0, b = 0; i < sequence.length; b++) {
    const size = d.batches[b % d.batches.length]!;
    batches.push(sequence.slice(i, i + size));
    i += size;
  }
  return batches;
}

async function deliver(db: Db, batches: SyncEvent[][]): Promise<Set<string>> {
  const accepted = new Set<string>();
  for (const batch of batches) {
    const r = await push(db, batch);
    if (r.rejected.length > 0) throw new Error(`unexpected rejections: ${JSON.stringify(r.rejected)}`);
    if (r.projectionFailures.length > 0)
      throw new Error(`projection failed: ${JSON.stringify(r.projectionFailures)}`);
    for (const id of r.accepted) {
      if (accepted.has(id)) throw new Error(`event ${id} accepted twice`);
      accepted.add(id);
    }
  }
  return accepted;
}

/** Names the first table that differs, with the rows found on only one side. */
const assertSameTables = (a: Db, b: Db) => assertSameTablesOf(a, b, ['delivery A', 'delivery B']);

async function assertRules(db: Db, events: SyncEvent[]): Promise<void> {
  expect(await stockDivergence(db)).toEqual([]);
  expect(await debtDivergence(db)).toEqual([]);

  const stock = await db
    .selectFrom('warehouse_stock')
    .select(['store_id', 'warehouse_id', 'product_id', 'stock'])
    .execute();
  expect(
    new Map(stock.map((r) => [`${r.store_id}|${r.warehouse_id}|${r.product_id}`, Number(r.stock)])),
  ).toEqual(expectedStock(events));

  const debts = await db.selectFrom('debts').select(['id', 'remaining_amount']).execute();
  expect(new Map(debts.map((r) => [r.id, Number(r.remaining_amount)]))).toEqual(expectedDebts(events));

  // A sale is voided exactly when some void names it.
  const sales = await db.selectFrom('sales').select(['id', 'void_event_id']).execute();
  const voidedIds = voidedSaleIds(events);
  for (const s of sales)
    expect({ sale: s.id, voided: s.void_event_id !== null }).toEqual({
      sale: s.id,
      voided: voidedIds.has(s.id),
    });
}

// ---------------------------------------------------------------------------------------------

let a: TestDatabase;
let b: TestDatabase;

beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase('converge_a'), createTestDatabase('converge_b')]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

describe('convergence of the projections', () => {
  it('catches a divergence: a read-model row changed in one database fails the comparison', async () => {
    // Guards the check itself: were the comparison blind, the property below would pass vacuously.
    await Promise.all([clearAll(a.db), clearAll(b.db)]);
    const events = buildEvents([
      { op: 'sale', store: 0, dev: 0, sale: 1, lines: [[0, 1, 2]], wh: 0, total: false },
      { op: 'debt', store: 0, dev: 1, debt: 1, amount: 5, alias: false },
    ]);
    await deliver(a.db, [events]);
    await deliver(b.db, [[...events].reverse()]);
    await assertSameTables(a.db, b.db);
    await a.db.updateTable('debts').set({ notes: 'tampered' }).execute();
    await expect(assertSameTables(a.db, b.db)).rejects.toThrow(/debts differs/);
  });

  it('the same events in two random deliveries give identical read models that follow the rules', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async ({ workload, deliveryA, deliveryB }) => {
        const events = buildEvents(workload);
        const batches = (d: Delivery) => schedule(events.length, d).map((b) => b.map((i) => events[i]!));
        await Promise.all([clearAll(a.db), clearAll(b.db)]);
        const [acceptedA, acceptedB] = await Promise.all([
          deliver(a.db, batches(deliveryA)),
          deliver(b.db, batches(deliveryB)),
        ]);
        const all = new Set(events.map((e) => e.event_id));
        expect(acceptedA).toEqual(all);
        expect(acceptedB).toEqual(all);

        await assertSameTables(a.db, b.db);
        await assertRules(a.db, events);
      }),
      {
        numRuns: Number(process.env.CONVERGENCE_RUNS ?? 25),
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        // Shrinking replays against the database; bound it so a failure reports in reasonable time.
        plugins: [fc.interruptAfterTimeLimit(30_000)],
      },
    );
  });
});
