import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Db } from '../../../infra/db';
import { FISCAL_TABLES } from '../../../infra/db/schema';
import { seriesLedger } from '../../../infra/fiscal/ranges';
import { listAlerts } from '../../../infra/repositories/alerts';
import type { SyncEvent } from '../../../domain/events/schemas';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, tableRows } from '../../support/projections';

// The fiscal projection (infra/projections/fiscal.ts) converges like the others: one set of fiscal
// events — two declarations of one series, blocks, range grants (one range id granted twice), both
// ends of one range, sales inside and outside the ranges, duplicate numbers, a void — delivered to
// two databases in random orders and batchings, with re-sends, as a peer relays them, gives the
// same rows in every fiscal table, the same ledger and one FISCAL_DUPLICATE alert per duplicate.

let a: TestDatabase;
let b: TestDatabase;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase('fiscal_conv_a'), createTestDatabase('fiscal_conv_b')]);
});
afterAll(async () => {
  await a?.drop();
  await b?.drop();
});

/** One store's fiscal history, as two nodes made it (node events come from `node:<id>` devices). */
function history(storeId: string): { events: SyncEvent[]; seriesId: string } {
  const seriesId = randomUUID();
  const nodeA = new DeviceSim(storeId, 'node:a');
  const nodeB = new DeviceSim(storeId, 'node:b');
  const dev1 = new DeviceSim(storeId, randomUUID());
  const dev2 = new DeviceSim(storeId, randomUUID());
  const blockA = randomUUID();
  const blockB = randomUUID();
  const r1 = randomUUID();
  const r2 = randomUUID();
  const r3 = randomUUID();
  const expires = '2026-11-21T12:00:00.000Z';
  const sale = (sim: DeviceSim, n: number, saleId = randomUUID()) =>
    sim.event('SaleCreated', {
      sale_id: saleId,
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 5 }],
      invoice_series_id: seriesId,
      fiscal_number: n,
    });
  const voided = randomUUID();
  const events: SyncEvent[] = [
    nodeA.event('FiscalSeriesDeclared', {
      series_id: seriesId,
      prefix: 'A',
      first_number: 1,
      last_number: null,
      valid_until: null,
      home_node: 'a',
      implicit: true,
    }),
    nodeB.event('FiscalSeriesDeclared', {
      series_id: seriesId,
      prefix: 'B',
      first_number: 1,
      last_number: null,
      valid_until: null,
      home_node: 'a',
      implicit: true,
    }),
    nodeA.event('FiscalBlockGranted', {
      block_id: blockA,
      series_id: seriesId,
      node_id: 'a',
      block_start: 1,
      block_end: 20,
      granted_by: 'a',
    }),
    nodeA.event('FiscalBlockGranted', {
      block_id: blockB,
      series_id: seriesId,
      node_id: 'b',
      block_start: 21,
      block_end: 40,
      granted_by: 'a',
    }),
    ...[randomUUID(), randomUUID()].map((_, i) =>
      nodeA.event('FiscalRangeGranted', {
        range_id: r1,
        series_id: seriesId,
        device_id: dev1.deviceId,
        node_id: 'a',
        block_id: blockA,
        range_start: 1,
        range_end: 5 + i,
        expires_at: expires,
      }),
    ),
    nodeB.event('FiscalRangeGranted', {
      range_id: r2,
      series_id: seriesId,
      device_id: dev2.deviceId,
      node_id: 'b',
      block_id: blockB,
      range_start: 21,
      range_end: 23,
      expires_at: expires,
    }),
    nodeA.event('FiscalRangeGranted', {
      range_id: r3,
      series_id: seriesId,
      device_id: dev2.deviceId,
      node_id: 'a',
      block_id: blockA,
      range_start: 7,
      range_end: 9,
      expires_at: expires,
    }),
    nodeA.event('FiscalRangeClosed', {
      range_id: r3,
      series_id: seriesId,
      device_id: dev2.deviceId,
      status: 'expired',
    }),
    nodeB.event('FiscalRangeClosed', {
      range_id: r2,
      series_id: seriesId,
      device_id: dev2.deviceId,
      status: 'expired',
    }),
    nodeB.event('FiscalRangeClosed', {
      range_id: r2,
      series_id: seriesId,
      device_id: dev2.deviceId,
      status: 'exhausted',
    }),
    sale(dev1, 1),
    sale(dev1, 2, voided),
    dev1.event('SaleVoided', { sale_id: voided }),
    sale(dev1, 3),
    sale(dev2, 3),
    sale(dev2, 21),
    sale(dev2, 23),
    sale(dev2, 30),
    sale(dev2, 23),
  ];
  return { events, seriesId };
}

interface Delivery {
  keys: number[];
  resends: number[];
  batches: number[];
}

const deliveryArb = (n: number): fc.Arbitrary<Delivery> =>
  fc.record({
    keys: fc.array(fc.nat({ max: 999 }), { minLength: n, maxLength: n }),
    resends: fc.array(fc.nat({ max: n - 1 }), { maxLength: 4 }),
    batches: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
  });

async function deliver(db: Db, events: SyncEvent[], d: Delivery): Promise<void> {
  const order = events
    .map((e, i) => ({ e, k: d.keys[i]! }))
    .sort((x, y) => x.k - y.k)
    .map((x) => x.e);
  for (const i of d.resends) order.splice((i * 7) % order.length, 0, events[i]!);
  for (let at = 0, turn = 0; at < order.length; turn++) {
    const size = d.batches[turn % d.batches.length]!;
    const result = await push(db, order.slice(at, at + size), {
      source: 'system-federation',
      sourcePeer: 'p',
    });
    expect(result.projectionFailures).toEqual([]);
    at += size;
  }
}

test('any arrival order and batching gives the same fiscal rows, ledger and alerts', async () => {
  const size = history(randomUUID()).events.length;
  await fc.assert(
    fc.asyncProperty(deliveryArb(size), deliveryArb(size), async (da, db_) => {
      const storeId = randomUUID();
      const { events, seriesId } = history(storeId);
      await deliver(a.db, events, da);
      await deliver(b.db, events, db_);
      for (const table of FISCAL_TABLES) {
        expect({ table, rows: await tableRows(b.db, table, [storeId]) }).toEqual({
          table,
          rows: await tableRows(a.db, table, [storeId]),
        });
      }
      const ledgerA = await seriesLedger(a.db, { store_id: storeId, series_id: seriesId });
      expect(await seriesLedger(b.db, { store_id: storeId, series_id: seriesId })).toEqual(ledgerA);
      // What the rules say, whatever the order: the smaller event id's declaration, exhausted beats
      // expired, the range of the smaller grant event, duplicates 3 and 23, 30 outside every range.
      expect(ledgerA.entries.filter((e) => e.state === 'duplicate').map((e) => e.number)).toEqual([3, 23]);
      expect(ledgerA.entries.find((e) => e.number === 2)!.state).toBe('voided');
      const ranges = await a.db
        .selectFrom('fiscal_sequence_ranges')
        .selectAll()
        .where('store_id', '=', storeId)
        .execute();
      expect(ranges).toHaveLength(3);
      expect(ranges.every((r) => r.range_start !== null)).toBe(true);
      expect(ranges.filter((r) => r.status === 'exhausted')).toHaveLength(1);
      const outside = await a.db
        .selectFrom('fiscal_numbers')
        .select('fiscal_number')
        .where('store_id', '=', storeId)
        .where('out_of_range', '=', true)
        .execute();
      expect(outside.map((o) => Number(o.fiscal_number)).sort((x, y) => x - y)).toEqual([3, 30]);
      for (const db of [a.db, b.db]) {
        const alerts = await listAlerts(db, { store_id: storeId, type: 'FISCAL_DUPLICATE' });
        expect(alerts.map((x) => (x.payload as { fiscal_number: number }).fiscal_number).sort()).toEqual([
          23, 3,
        ]);
      }
    }),
    { numRuns: Number(process.env.FISCAL_CONVERGENCE_RUNS ?? 15) },
  );
});

test('a series declared with two homes, or blocks that overlap, raise FISCAL_SERIES_CONFLICT (P0) in any order', async () => {
  for (const together of [true, false]) {
    const storeId = randomUUID();
    const seriesId = randomUUID();
    const a1 = new DeviceSim(storeId, 'node:a');
    const b1 = new DeviceSim(storeId, 'node:b');
    const declare = (sim: DeviceSim, home: string) =>
      sim.event('FiscalSeriesDeclared', {
        series_id: seriesId,
        prefix: '',
        first_number: 1,
        last_number: null,
        valid_until: null,
        home_node: home,
        implicit: false,
      });
    const block = (sim: DeviceSim, node: string, start: number) =>
      sim.event('FiscalBlockGranted', {
        block_id: randomUUID(),
        series_id: seriesId,
        node_id: node,
        block_start: start,
        block_end: start + 99,
        granted_by: node,
      });
    const events = [declare(a1, 'a'), declare(b1, 'b'), block(a1, 'a', 1), block(b1, 'b', 51)];
    if (together) await push(a.db, events, { source: 'system-federation' });
    else for (const e of events.reverse()) await push(a.db, [e], { source: 'system-federation' });

    const alerts = await listAlerts(a.db, { store_id: storeId, type: 'FISCAL_SERIES_CONFLICT' });
    expect(alerts.map((x) => x.severity)).toEqual(['P0', 'P0']);
    expect(alerts.map((x) => x.subject).sort()).toEqual([
      expect.stringContaining('overlap'),
      expect.stringContaining('two home nodes: a, b'),
    ]);
  }
});
