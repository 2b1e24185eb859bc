import { randomUUID } from 'node:crypto';
import type { Db } from '../../../infra/db';
import { FISCAL_TABLES } from '../../../infra/db/schema';
import { seriesLedger } from '../../../infra/fiscal/ranges';
import { listAlerts } from '../../../infra/repositories/alerts';
import type { SyncEvent } from '../../../domain/events/schemas';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, tableRows } from '../../support/projections';

// Fiscal state is per store like every other read model: two stores that reuse the series id, the
// block id, the range id, the sale ids and the fiscal numbers keep two independent series. Each
// store's fiscal tables, series ledger and FISCAL_DUPLICATE alerts on a node that holds both are
// exactly those of a node that holds that store alone.

let both: TestDatabase;
let onlyA: TestDatabase;
let onlyB: TestDatabase;
beforeAll(async () => {
  [both, onlyA, onlyB] = await Promise.all([
    createTestDatabase('fiscal_two'),
    createTestDatabase('fiscal_only_a'),
    createTestDatabase('fiscal_only_b'),
  ]);
});
afterAll(async () => {
  await both?.drop();
  await onlyA?.drop();
  await onlyB?.drop();
});

/** The ids both stores use. */
const ids = {
  series: randomUUID(),
  block: randomUUID(),
  range: randomUUID(),
  sales: [randomUUID(), randomUUID(), randomUUID()] as const,
};

/**
 * One store's fiscal history: its series (own prefix), one block and one device range with the
 * shared ids, and three numbered sales of which two share `duplicate`; `voidFirst` voids the first.
 */
function history(
  storeId: string,
  o: { prefix: string; rangeEnd: number; numbers: number[]; voidFirst: boolean },
) {
  const node = new DeviceSim(storeId, 'node:a');
  const till = new DeviceSim(storeId);
  const events: SyncEvent[] = [
    node.event('FiscalSeriesDeclared', {
      series_id: ids.series,
      prefix: o.prefix,
      first_number: 1,
      last_number: null,
      valid_until: null,
      home_node: 'a',
      implicit: false,
    }),
    node.event('FiscalBlockGranted', {
      block_id: ids.block,
      series_id: ids.series,
      node_id: 'a',
      block_start: 1,
      block_end: 20,
      granted_by: 'a',
    }),
    node.event('FiscalRangeGranted', {
      range_id: ids.range,
      series_id: ids.series,
      device_id: till.deviceId,
      node_id: 'a',
      block_id: ids.block,
      range_start: 1,
      range_end: o.rangeEnd,
      expires_at: '2026-11-21T12:00:00.000Z',
    }),
    ...ids.sales.map((sale_id, i) =>
      till.event('SaleCreated', {
        sale_id,
        items: [{ product_id: randomUUID(), qty: 1, unit_price: 5 }],
        invoice_series_id: ids.series,
        fiscal_number: o.numbers[i]!,
      }),
    ),
    ...(o.voidFirst ? [till.event('SaleVoided', { sale_id: ids.sales[0] })] : []),
  ];
  return { storeId, events, till };
}

const storeA = history(randomUUID(), { prefix: 'A', rangeEnd: 5, numbers: [1, 2, 2], voidFirst: false });
const storeB = history(randomUUID(), { prefix: 'B', rangeEnd: 10, numbers: [2, 3, 3], voidFirst: true });

async function pushAll(db: Db, events: SyncEvent[]) {
  for (const e of events) expect((await push(db, [e])).projectionFailures).toEqual([]);
}

const duplicateAlerts = async (db: Db, storeId: string) =>
  (await listAlerts(db, { store_id: storeId, type: 'FISCAL_DUPLICATE' })).map((a) => ({
    store_id: a.store_id,
    subject: a.subject,
    payload: a.payload,
    dedup_key: a.dedup_key,
  }));

test('two stores reusing series, block, range, sale ids and numbers keep independent fiscal state', async () => {
  // Interleaved on one node, each store alone on another.
  const interleaved = storeA.events.flatMap((e, i) => [e, ...(storeB.events[i] ? [storeB.events[i]] : [])]);
  await pushAll(both.db, [...interleaved, ...storeB.events.slice(storeA.events.length)]);
  await pushAll(onlyA.db, storeA.events);
  await pushAll(onlyB.db, storeB.events);

  for (const [store, alone] of [
    [storeA, onlyA],
    [storeB, onlyB],
  ] as const) {
    for (const table of FISCAL_TABLES) {
      const rows = await tableRows(both.db, table, [store.storeId]);
      expect(rows.length).toBeGreaterThan(0);
      expect({ table, rows }).toEqual({ table, rows: await tableRows(alone.db, table, [store.storeId]) });
    }
    const key = { store_id: store.storeId, series_id: ids.series };
    expect(await seriesLedger(both.db, key)).toEqual(await seriesLedger(alone.db, key));
    expect(await duplicateAlerts(both.db, store.storeId)).toEqual(
      await duplicateAlerts(alone.db, store.storeId),
    );
  }

  // What each store's own events say: A's duplicate is 2 (two of its sales), B's is 3, although B's
  // first sale holds 2 as well; B's void of the shared sale id voids nothing of A; each series keeps
  // its own prefix and range.
  const ledgerA = await seriesLedger(both.db, { store_id: storeA.storeId, series_id: ids.series });
  const ledgerB = await seriesLedger(both.db, { store_id: storeB.storeId, series_id: ids.series });
  expect(ledgerA.prefix).toBe('A');
  expect(ledgerB.prefix).toBe('B');
  expect(ledgerA.entries.filter((e) => e.state === 'duplicate').map((e) => e.number)).toEqual([2]);
  expect(ledgerB.entries.filter((e) => e.state === 'duplicate').map((e) => e.number)).toEqual([3]);
  expect(ledgerA.entries.filter((e) => e.state === 'voided')).toEqual([]);
  expect(ledgerB.entries.filter((e) => e.state === 'voided').map((e) => e.number)).toEqual([2]);
  const ranges = await both.db
    .selectFrom('fiscal_sequence_ranges')
    .select(['store_id', 'range_end', 'device_id'])
    .where('range_id', '=', ids.range)
    .orderBy('range_end')
    .execute();
  expect(ranges).toEqual([
    { store_id: storeA.storeId, range_end: '5', device_id: storeA.till.deviceId },
    { store_id: storeB.storeId, range_end: '10', device_id: storeB.till.deviceId },
  ]);

  // Each FISCAL_DUPLICATE alert names its own store, and nothing of the other one.
  for (const [store, other, number] of [
    [storeA, storeB, 2],
    [storeB, storeA, 3],
  ] as const) {
    const alerts = await duplicateAlerts(both.db, store.storeId);
    expect(alerts.map((a) => (a.payload as { fiscal_number: number }).fiscal_number)).toEqual([number]);
    const text = JSON.stringify(alerts);
    expect(text).not.toContain(other.storeId);
    expect(text).not.toContain(other.till.deviceId);
    for (const e of other.events) expect(text).not.toContain(e.event_id);
  }
  const all = await listAlerts(both.db, { type: 'FISCAL_DUPLICATE' });
  expect(all.map((a) => a.store_id).sort()).toEqual([storeA.storeId, storeB.storeId].sort());
});
