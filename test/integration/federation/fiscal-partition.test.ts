import { randomUUID } from 'node:crypto';
import { FISCAL_TABLES } from '../../../infra/db/schema';
import { createTestNetwork, eventually, type TestNode } from '../../support/nodes';
import { PeerProxy } from '../../support/peer-proxy';
import { tableRows } from '../../support/projections';
import { DeviceSim } from '../../support/events';

// Two real nodes (child processes: API + worker, own database and Temporal namespace), each
// reaching the other through a proxy that can cut the link. Node a is the home of the series (the
// smaller id). Both hold a block, then are partitioned: relays paused and every direct request
// dropped. Both keep reserving for the same series, and for a series neither has seen; sales use
// the numbers on both sides. After the heal: no number was handed out twice, both nodes hold the
// same fiscal rows and answer the same ledger, and no duplicate was found.

let a: TestNode;
let b: TestNode;
const proxies: PeerProxy[] = [];
const storeId = randomUUID();
const seriesId = randomUUID();
const freshSeries = randomUUID();

const RELAY_ENV = {
  RELAY_POLL_INTERVAL_MS: '500',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '200',
  RELAY_HTTP_TIMEOUT_MS: '3000',
  FISCAL_BLOCK_SIZE: '100',
  FISCAL_BLOCK_LOW_WATER: '20',
};

beforeAll(async () => {
  const nodes = await createTestNetwork(['a', 'b'], {
    env: RELAY_ENV,
    peerUrl: async (_from, _to, url) => {
      const proxy = new PeerProxy(url);
      await proxy.start();
      proxies.push(proxy);
      return proxy.url;
    },
  });
  a = nodes.a!;
  b = nodes.b!;
  // One at a time: each bundles its workflows at start, and the machine is small.
  await a.start();
  await b.start();
  for (const node of [a, b]) {
    const res = await node.request('POST', '/stores', { id: storeId, name: 'Tienda' });
    expect([200, 201]).toContain(res.status);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all(proxies.map((p) => p.close()));
});

interface Range {
  device_id: string;
  range_start: number;
  range_end: number;
}

const reserve = (node: TestNode, series: string, device: string, quantity = 10) =>
  node.request<Range & { error?: { code: string; message: string } }>('POST', '/fiscal/reserve-range', {
    store_id: storeId,
    series_id: series,
    device_id: device,
    quantity,
  });

const peerOf = (node: TestNode) => (node === a ? b : a);

async function setRelays(action: 'pause' | 'resume') {
  for (const node of [a, b]) {
    const res = await node.request('POST', `/sync/federation/relays/${peerOf(node).id}/${action}`);
    expect(res.status).toBe(200);
  }
}

async function lag(node: TestNode): Promise<number | null> {
  const res = await node.request<{ peers: { peer_id: string; lag: { events: number | null } }[] }>(
    'GET',
    '/sync/federation/status',
  );
  return res.body.peers.find((p) => p.peer_id === peerOf(node).id)?.lag.events ?? null;
}

async function pushSale(node: TestNode, sim: DeviceSim, series: string, number: number) {
  const res = await node.request<{ accepted: string[] }>('POST', '/sync/push', {
    store_id: storeId,
    device_id: sim.deviceId,
    events: [
      sim.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: randomUUID(), qty: 1, unit_price: 3 }],
        invoice_series_id: series,
        fiscal_number: number,
      }),
    ],
  });
  expect(res.body.accepted).toHaveLength(1);
}

const allRanges = async (node: TestNode) =>
  (
    await node.db
      .selectFrom('fiscal_sequence_ranges')
      .select(['range_id', 'series_id', 'node_id', 'range_start', 'range_end'])
      .where('store_id', '=', storeId)
      .execute()
  ).map((r) => ({ ...r, range_start: Number(r.range_start), range_end: Number(r.range_end) }));

function overlaps(ranges: { series_id: string; range_start: number; range_end: number }[]): string[] {
  const found: string[] = [];
  const sorted = [...ranges].sort(
    (x, y) => x.series_id.localeCompare(y.series_id) || x.range_start - y.range_start,
  );
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const q = sorted[i]!;
    if (p.series_id === q.series_id && q.range_start <= p.range_end)
      found.push(`${p.range_start}-${p.range_end}/${q.range_start}-${q.range_end}`);
  }
  return found;
}

test('partitioned nodes keep reserving from their own blocks, never hand out a number twice, and agree after the heal', async () => {
  // Connected: b gets its first block from a (the home) and, once under the low-water mark (20 of
  // 100 free), its next one ahead of need; a grants itself one.
  for (let i = 0; i < 9; i++) expect((await reserve(b, seriesId, randomUUID())).status).toBe(201);
  expect((await reserve(a, seriesId, randomUUID())).status).toBe(201);
  const blocksOfB = () =>
    b.db
      .selectFrom('fiscal_blocks')
      .select('block_start')
      .where('node_id', '=', 'b')
      .where('series_id', '=', seriesId)
      .execute();
  await eventually('b holds a second block before it needs one', blocksOfB, (rows) => rows.length === 2);

  // Partition.
  await setRelays('pause');
  for (const p of proxies) p.cut = true;

  const onA = Array.from({ length: 12 }, () => randomUUID());
  const onB = Array.from({ length: 12 }, () => randomUUID());
  const [fromA, fromB] = await Promise.all([
    Promise.all(onA.map((d) => reserve(a, seriesId, d))),
    Promise.all(onB.map((d) => reserve(b, seriesId, d))),
  ]);
  // a is the home: it grants itself more blocks. b serves from what it holds, then says so.
  expect(fromA.every((r) => r.status === 201)).toBe(true);
  const bOk = fromB.filter((r) => r.status === 201);
  const bRefused = fromB.filter((r) => r.status !== 201);
  // 10 numbers left of its first block and 100 of the one fetched ahead: 11 ranges of 10.
  expect(bOk.length).toBe(11);
  expect(bRefused.length).toBeGreaterThan(0);
  for (const r of bRefused) {
    expect(r.status).toBe(503);
    expect(r.body.error!.code).toBe('FISCAL_NO_BLOCK');
    expect(r.body.error!.message).toContain(seriesId);
  }

  // A series neither node has seen, first met on both sides of the cut: only its home allocates.
  const freshA = await reserve(a, freshSeries, randomUUID());
  const freshB = await reserve(b, freshSeries, randomUUID());
  expect(freshA.status).toBe(201);
  expect(freshB.status).toBe(503);
  expect(freshB.body.error!.message).toContain(freshSeries);

  // Sales on both sides, each device using the first two numbers of its range.
  for (const [node, answers, devices] of [
    [a, fromA, onA],
    [b, fromB, onB],
  ] as const) {
    for (const [i, r] of answers.entries()) {
      if (r.status !== 201) continue;
      const sim = new DeviceSim(storeId, devices[i]!);
      await pushSale(node, sim, seriesId, r.body.range_start);
      await pushSale(node, sim, seriesId, r.body.range_start + 1);
    }
  }

  // Heal.
  for (const p of proxies) p.cut = false;
  await setRelays('resume');
  await eventually(
    'both relays caught up',
    async () => [await lag(a), await lag(b)],
    (l) => l[0] === 0 && l[1] === 0,
    60_000,
  );
  const again = await reserve(b, seriesId, randomUUID());
  expect(again.status).toBe(201);
  await eventually(
    'both relays caught up again',
    async () => [await lag(a), await lag(b)],
    (l) => l[0] === 0 && l[1] === 0,
    60_000,
  );

  const [rangesA, rangesB] = await Promise.all([allRanges(a), allRanges(b)]);
  expect(overlaps(rangesA)).toEqual([]);
  expect(rangesA.length).toBe(9 + 1 + 12 + bOk.length + 1 + 1);
  expect(rangesB.sort((x, y) => x.range_id.localeCompare(y.range_id))).toEqual(
    rangesA.sort((x, y) => x.range_id.localeCompare(y.range_id)),
  );
  for (const table of FISCAL_TABLES) {
    expect({ table, rows: await tableRows(b.db, table, [storeId]) }).toEqual({
      table,
      rows: await tableRows(a.db, table, [storeId]),
    });
  }
  const ledgerOf = (node: TestNode) =>
    node.request<{ totals: Record<string, number>; entries: { state: string }[] }>(
      'GET',
      `/fiscal/series/${seriesId}/ledger?store_id=${storeId}`,
    );
  const [la, lb] = await Promise.all([ledgerOf(a), ledgerOf(b)]);
  expect(la.status).toBe(200);
  expect(lb.body).toEqual(la.body);
  expect(la.body.totals.duplicate).toBe(0);
  expect(la.body.totals.issued).toBe(2 * (12 + bOk.length));
  const alerts = await a.db.selectFrom('alerts').selectAll().where('type', '=', 'FISCAL_DUPLICATE').execute();
  expect(alerts).toEqual([]);
});

test('a last number that reaches the granting node only by a reconcile pull ends its range exhausted, on both nodes', async () => {
  // The device reserves on a (the home) and, moved to b, sells its whole range there while the
  // relays are paused: a learns of the sales only when it pulls them from b.
  const device = randomUUID();
  const range = await reserve(a, seriesId, device, 2);
  expect(range.status).toBe(201);
  const rangeRow = (node: TestNode) =>
    node.db
      .selectFrom('fiscal_sequence_ranges')
      .select(['range_id', 'status'])
      .where('store_id', '=', storeId)
      .where('device_id', '=', device)
      .executeTakeFirst();
  await eventually(
    'b knows the range',
    () => rangeRow(b),
    (r) => r !== undefined,
  );
  const rangeId = (await rangeRow(a))!.range_id;
  await setRelays('pause');
  const sim = new DeviceSim(storeId, device);
  await pushSale(b, sim, seriesId, range.body.range_start);
  await pushSale(b, sim, seriesId, range.body.range_end);
  expect((await rangeRow(a))!.status).toBe('active');

  const repaired = await a.request<{ sales: { replayedToLocal: number } }>(
    'POST',
    '/sync/federation/auto-reconcile',
    { store_id: storeId, peer_id: 'b' },
  );
  expect(repaired.status).toBe(200);
  expect(repaired.body.sales.replayedToLocal).toBe(2);
  const handle = a.client!.workflow.getHandle(`fiscal-range:${rangeId}`);
  const ended = await Promise.race([
    handle.result(),
    new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000).unref()),
  ]);
  expect(ended).toBe('exhausted');
  expect((await rangeRow(a))!.status).toBe('exhausted');

  await setRelays('resume');
  await eventually(
    'b learns the end',
    () => rangeRow(b),
    (r) => r?.status === 'exhausted',
    60_000,
  );
  await eventually(
    'both relays caught up',
    async () => [await lag(a), await lag(b)],
    (l) => l[0] === 0 && l[1] === 0,
    60_000,
  );
  const ledgerOf = (node: TestNode) =>
    node.request('GET', `/fiscal/series/${seriesId}/ledger?store_id=${storeId}`);
  expect((await ledgerOf(b)).body).toEqual((await ledgerOf(a)).body);
});
