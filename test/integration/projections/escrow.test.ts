import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { assertSameTables, clearAll, push } from '../../support/projections';
import type { SyncEvent } from '../../../domain/events/schemas';

// The escrow projections converge (docs/escrow.md): the same set of escrow events — grants,
// consumptions, releases and rights moves of two nodes, with a consumption or release arriving
// before its grant and two events claiming one grant id — delivered in any order, batching and
// with re-sends, gives identical tables, and each quota's rest is granted − consumed − released.

let a: TestDatabase;
let b: TestDatabase;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase('escrow_conv_a'), createTestDatabase('escrow_conv_b')]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

const store = randomUUID();
const products = [randomUUID(), randomUUID()];
const till = randomUUID();

/** One fixed history of two nodes granting from rights, with sales consuming and releases. */
function history(): { events: SyncEvent[]; rest: Record<string, number> } {
  const x = new DeviceSim(store, 'node:x');
  const y = new DeviceSim(store, 'node:y');
  const dev = new DeviceSim(store, till);
  const events: SyncEvent[] = [];
  const rest: Record<string, number> = {};
  for (const p of products) events.push(dev.event('StockReceived', { product_id: p, qty: 40 }));
  events.push(
    x.event('EscrowRightsMoved', {
      move_id: randomUUID(),
      product_id: products[0]!,
      from_node: 'x',
      to_node: 'y',
      qty: 10,
    }),
  );
  for (const [i, p] of products.entries()) {
    for (const [node, sim] of [
      ['x', x],
      ['y', y],
    ] as const) {
      const grantId = randomUUID();
      const qty = 3 + i;
      events.push(
        sim.event('EscrowGranted', {
          grant_id: grantId,
          node_id: node,
          device_id: till,
          product_id: p,
          qty,
          expires_at: '2026-11-20T16:00:00.000Z',
        }),
      );
      const sale = dev.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: p, qty: 2, unit_price: 1 }],
      });
      events.push(
        sale,
        sim.event('EscrowConsumed', {
          node_id: node,
          device_id: till,
          sale_id: (sale.payload as { sale_id: string }).sale_id,
          sale_event_id: sale.event_id,
          lines: [{ grant_id: grantId, line_no: 1, product_id: p, qty: 2 }],
        }),
        sim.event('EscrowReleased', {
          grant_id: grantId,
          node_id: node,
          product_id: p,
          qty_released: qty - 2,
        }),
      );
      rest[grantId] = 0;
    }
  }
  // Two events claiming one grant id (never made by a correct node, but the rows must still agree).
  const claimed = randomUUID();
  for (const qty of [1, 2]) {
    events.push(
      x.event('EscrowGranted', {
        grant_id: claimed,
        node_id: 'x',
        device_id: till,
        product_id: products[1]!,
        qty,
        expires_at: '2026-11-20T16:00:00.000Z',
      }),
    );
  }
  const winner = events.filter(
    (e) => e.type === 'EscrowGranted' && (e.payload as { grant_id: string }).grant_id === claimed,
  );
  winner.sort((p, q) => (p.event_id < q.event_id ? -1 : 1));
  rest[claimed] = (winner[0]!.payload as { qty: number }).qty;
  return { events, rest };
}

async function deliver(
  db: TestDatabase['db'],
  events: SyncEvent[],
  order: number[],
  batches: number[],
  resend: number[],
) {
  const sorted = events
    .map((e, i) => ({ e, k: order[i]! }))
    .sort((p, q) => p.k - q.k)
    .map((x) => x.e);
  for (const r of resend) sorted.splice(r % (sorted.length + 1), 0, events[r % events.length]!);
  for (let i = 0, k = 0; i < sorted.length; k++) {
    const size = batches[k % batches.length]!;
    // As a peer relays them: the node-made events keep their origin; no stock check, no consumption here.
    const r = await push(db, sorted.slice(i, i + size), { source: 'system-federation' });
    expect(r.projectionFailures).toEqual([]);
    i += size;
  }
}

const restOf = async (db: TestDatabase['db']) => {
  const r = await sql<{ grant_id: string; rest: string }>`
    SELECT q.grant_id::text, (q.qty_granted
      - coalesce((SELECT sum(c.qty) FROM escrow_consumptions c WHERE c.store_id = q.store_id AND c.grant_id = q.grant_id), 0)
      - coalesce((SELECT r.qty_released FROM escrow_releases r WHERE r.store_id = q.store_id AND r.grant_id = q.grant_id), 0))::text AS rest
    FROM escrow_quotas q`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.grant_id, Number(x.rest)]));
};

test('escrow tables are a function of the set of events, whatever the order, batching and re-sends', async () => {
  const { events, rest } = history();
  const n = events.length;
  const orderArb = fc.array(fc.nat({ max: 999 }), { minLength: n, maxLength: n });
  const batchesArb = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 });
  const resendArb = fc.array(fc.nat({ max: 200 }), { maxLength: 4 });
  await fc.assert(
    fc.asyncProperty(orderArb, orderArb, batchesArb, batchesArb, resendArb, async (oa, ob, ba, bb, ra) => {
      await Promise.all([clearAll(a.db), clearAll(b.db)]);
      await deliver(a.db, events, oa, ba, ra);
      await deliver(b.db, events, ob, bb, []);
      await assertSameTables(a.db, b.db);
      expect(await restOf(a.db)).toEqual(rest);
    }),
    { numRuns: Number(process.env.ESCROW_CONVERGENCE_RUNS ?? 15) },
  );
});
