import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createIngestQueue } from '../../../infra/eventlog/coalescer';
import type { IngestOptions } from '../../../infra/eventlog/ingest';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { silentLog } from '../../support/projections';

// Group commit: pushes that arrive together share one transaction, and each still gets the answer
// it would get alone.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('coalescer');
});
afterAll(async () => {
  await t?.drop();
});

const device: IngestOptions = { nodeId: 'node-a', source: 'device' };
const sale = (d: DeviceSim, productId: string) =>
  d.event('SaleCreated', {
    sale_id: randomUUID(),
    items: [{ product_id: productId, qty: 1, unit_price: 2 }],
  });

test('thirty tills pushing one sale each at once: few transactions, each push answered for its own event', async () => {
  const queue = createIngestQueue(t.db, { lanes: 2, maxEvents: 500 });
  const store = randomUUID();
  const productId = randomUUID();
  const tills = Array.from({ length: 30 }, () => new DeviceSim(store));
  const events = tills.map((d) => sale(d, productId));
  const results = await Promise.all(events.map((e) => queue.ingest([e], device, silentLog)));

  expect(queue.stats().pushes).toBe(30);
  expect(queue.stats().transactions).toBeLessThanOrEqual(3);
  const seqs = await t.db
    .selectFrom('events')
    .select(['event_id', 'node_seq', 'source'])
    .where('store_id', '=', store)
    .execute();
  const seqOf = new Map(seqs.map((r) => [r.event_id, Number(r.node_seq)]));
  results.forEach((r, i) => {
    expect(r.accepted).toEqual([events[i]!.event_id]);
    expect(r.duplicates).toEqual([]);
    expect(r.rejected).toEqual([]);
    expect(r.lastNodeSeq).toBe(seqOf.get(events[i]!.event_id));
    expect(r.stores).toEqual([store]);
  });
  expect(seqs.every((r) => r.source === 'device')).toBe(true);
  const stock = await t.db
    .selectFrom('warehouse_stock')
    .select('stock')
    .where('store_id', '=', store)
    .where('product_id', '=', productId)
    .executeTakeFirstOrThrow();
  expect(stock.stock).toBe('-30.000');
});

test('the same event in two pushes of one transaction: accepted once, a duplicate for the other; another source keeps its own', async () => {
  const queue = createIngestQueue(t.db, { lanes: 1, maxEvents: 500 });
  const store = randomUUID();
  const d = new DeviceSim(store);
  const e = sale(d, randomUUID());
  const other = sale(d, randomUUID());
  const peer: IngestOptions = { nodeId: 'node-a', source: 'system-federation', sourcePeer: 'cloud' };
  const [first, second, third] = await Promise.all([
    queue.ingest([e], device, silentLog),
    queue.ingest([e], device, silentLog),
    queue.ingest([{ ...other, origin_node: 'cloud' }], peer, silentLog),
  ]);
  expect(queue.stats().transactions).toBe(1);
  expect(first!.accepted).toEqual([e.event_id]);
  expect(second!.accepted).toEqual([]);
  expect(second!.duplicates).toEqual([e.event_id]);
  expect(third!.accepted).toEqual([other.event_id]);
  const rows = await t.db
    .selectFrom('events')
    .select(['event_id', 'source', 'source_peer', 'origin_node'])
    .where('store_id', '=', store)
    .orderBy('node_seq')
    .execute();
  expect(rows).toEqual([
    { event_id: e.event_id, source: 'device', source_peer: null, origin_node: 'node-a' },
    { event_id: other.event_id, source: 'system-federation', source_peer: 'cloud', origin_node: 'cloud' },
  ]);
});

test('a push whose transaction fails does not fail the pushes it shared it with', async () => {
  const queue = createIngestQueue(t.db, { lanes: 1, maxEvents: 500 });
  const store = randomUUID();
  const tills = Array.from({ length: 5 }, () => new DeviceSim(store));
  const events = tills.map((d) => sale(d, randomUUID()));
  const poison = events[2]!;
  // The log itself refuses this one event (a broken trigger, a disk full for one page, …).
  await sql`
    CREATE FUNCTION test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_id = ${sql.lit(poison.event_id)}::uuid THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
      RETURN NEW;
    END $$`.execute(t.db);
  await sql`CREATE TRIGGER test_refuse_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_refuse_event()`.execute(
    t.db,
  );
  let outcomes: PromiseSettledResult<unknown>[];
  try {
    outcomes = await Promise.allSettled(events.map((e) => queue.ingest([e], device, silentLog)));
  } finally {
    await sql`DROP TRIGGER test_refuse_event ON events`.execute(t.db);
    await sql`DROP FUNCTION test_refuse_event`.execute(t.db);
  }
  expect(outcomes.map((o) => o.status)).toEqual([
    'fulfilled',
    'fulfilled',
    'rejected',
    'fulfilled',
    'fulfilled',
  ]);
  const stored = await t.db.selectFrom('events').select('event_id').where('store_id', '=', store).execute();
  expect(stored.map((r) => r.event_id).sort()).toEqual(
    events
      .filter((e) => e !== poison)
      .map((e) => e.event_id)
      .sort(),
  );
});
