import { buildLedger } from '../../../../domain/fiscal/ledger';

const use = (n: number, sale: string, voided = false) => ({
  fiscal_number: n,
  sale_id: sale,
  device_id: 'd1',
  voided,
  out_of_range: false,
});

test('each number gets exactly one state and the totals add up', () => {
  const { entries, totals } = buildLedger(
    1,
    12,
    [use(1, 's1'), use(2, 's2', true), use(3, 's3'), use(3, 's4'), use(6, 's6')],
    [
      { range_id: 'r1', device_id: 'd1', node_id: 'a', range_start: 1, range_end: 5, status: 'active' },
      { range_id: 'r2', device_id: 'd2', node_id: 'a', range_start: 6, range_end: 8, status: 'expired' },
    ],
    [{ block_id: 'b1', node_id: 'a', block_start: 1, block_end: 10 }],
  );
  expect(entries.map((e) => e.state)).toEqual([
    'issued',
    'voided',
    'duplicate',
    'reserved',
    'reserved',
    'issued',
    'burned',
    'burned',
    'reserved',
    'reserved',
    'burned',
    'burned',
  ]);
  expect(entries[2]!.sales.map((s) => s.sale_id)).toEqual(['s3', 's4']);
  expect(entries[8]).toMatchObject({ range_id: null, node_id: 'a' });
  expect(totals).toEqual({ issued: 2, voided: 1, duplicate: 1, reserved: 4, burned: 4 });
});

test('the ledger does not depend on the order rows come in', () => {
  const uses = [use(2, 'b'), use(2, 'a'), use(1, 'c')];
  const one = buildLedger(1, 2, uses, [], []);
  const other = buildLedger(1, 2, [...uses].reverse(), [], []);
  expect(other).toEqual(one);
});
