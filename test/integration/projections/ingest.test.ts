import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, tableDigest } from '../../support/projections';
import { hashPayload } from '../../../domain/events/hash';
import { PROJECTION_TABLES } from '../../../infra/db/schema';
import type { Db } from '../../../infra/db';
import type { SyncEvent } from '../../../domain/events/schemas';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('ingest');
});
afterAll(async () => {
  await t?.drop();
});

async function snapshot(db: Db) {
  const out: Record<string, unknown> = {};
  for (const table of [...PROJECTION_TABLES, 'events', 'event_digests', 'conflict_audit_log'])
    out[table] = await tableDigest(db, table);
  return out;
}

function withReversedKeys<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).reverse()) as T;
}

describe('ingest: dedupe, conflicts and projection failures', () => {
  it('a re-sent event is reported as a duplicate and changes nothing, even with its keys reordered', async () => {
    const d = new DeviceSim(randomUUID());
    const sale = d.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 3 }],
      total: 3,
    });
    const first = await push(t.db, [sale]);
    expect(first.accepted).toEqual([sale.event_id]);
    expect(first.lastNodeSeq).toEqual(expect.any(Number));
    const before = await snapshot(t.db);

    const resent = { ...sale, payload: withReversedKeys(sale.payload) } as SyncEvent;
    const again = await push(t.db, [resent]);
    expect(again).toMatchObject({
      accepted: [],
      duplicates: [sale.event_id],
      rejected: [],
      lastNodeSeq: null,
    });
    // Twice in one request: the first copy is accepted, the second is its duplicate.
    const d2 = d.event('StockReceived', { product_id: randomUUID(), qty: 1 });
    const both = await push(t.db, [d2, d2]);
    expect(both).toMatchObject({ accepted: [d2.event_id], duplicates: [d2.event_id] });
    const after = await push(t.db, [d2]);
    expect(after.duplicates).toEqual([d2.event_id]);
    expect((await snapshot(t.db)).sales).toEqual(before.sales);
  });

  it('the same event_id with another payload is rejected as EVENT_ID_CONFLICT and nothing is written', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    const debtId = randomUUID();
    const debt = d.event('DebtCreated', { debt_id: debtId, amount: 10 });
    await push(t.db, [debt]);
    const before = await snapshot(t.db);

    const forged = { ...debt, payload: { ...debt.payload, amount: 1000 } } as SyncEvent;
    const r = await push(t.db, [forged]);
    expect(r.accepted).toEqual([]);
    expect(r.duplicates).toEqual([]);
    expect(r.rejected).toEqual([
      { index: 0, event_id: debt.event_id, code: 'EVENT_ID_CONFLICT', message: expect.any(String) },
    ]);
    expect(await snapshot(t.db)).toEqual(before);
    const stored = await t.db
      .selectFrom('events')
      .select(['payload', 'full_payload_hash'])
      .where('event_id', '=', debt.event_id)
      .executeTakeFirstOrThrow();
    expect(stored.full_payload_hash).toBe(hashPayload(debt.payload));
    expect(stored.payload).toEqual(debt.payload);

    // Inside one request too: the second spelling of the id is refused, the first one lands.
    const fresh = d.event('DebtCreated', { debt_id: randomUUID(), amount: 5 });
    const clash = { ...fresh, payload: { ...fresh.payload, amount: 6 } } as SyncEvent;
    const mixed = await push(t.db, [fresh, clash]);
    expect(mixed.accepted).toEqual([fresh.event_id]);
    expect(mixed.rejected.map((x) => x.code)).toEqual(['EVENT_ID_CONFLICT']);
    const landed = await t.db
      .selectFrom('debts')
      .select('total_amount')
      .where('event_id', '=', fresh.event_id)
      .executeTakeFirstOrThrow();
    expect(landed.total_amount).toBe('5.00');
  });

  it('the same event_id and payload in another envelope (seq, type, created_at, device, store) is EVENT_ID_CONFLICT', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    // A payload that both ProductCreated and ProductUpdated accept, so the type alone can differ.
    const original = d.event('ProductCreated', { product_id: randomUUID(), name: 'Coffee', price: 3 });
    expect((await push(t.db, [original])).accepted).toEqual([original.event_id]);
    const before = await snapshot(t.db);

    const variants: [string, SyncEvent][] = [
      ['seq', { ...original, seq: original.seq + 1 }],
      ['type', { ...original, type: 'ProductUpdated' } as SyncEvent],
      [
        'created_at',
        { ...original, created_at: new Date(Date.parse(original.created_at) + 1000).toISOString() },
      ],
      ['device', { ...original, device_id: randomUUID() }],
      ['store', { ...original, store_id: randomUUID() }],
    ];
    for (const [field, variant] of variants) {
      expect(variant.payload).toEqual(original.payload);
      const r = await push(t.db, [variant]);
      expect({ field, accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected }).toEqual({
        field,
        accepted: [],
        duplicates: [],
        rejected: [
          { index: 0, event_id: original.event_id, code: 'EVENT_ID_CONFLICT', message: expect.any(String) },
        ],
      });
    }
    expect(await snapshot(t.db)).toEqual(before);
    const stored = await t.db
      .selectFrom('events')
      .select(['store_id', 'device_id', 'seq', 'type'])
      .where('event_id', '=', original.event_id)
      .execute();
    expect(stored).toEqual([
      { store_id: store, device_id: original.device_id, seq: String(original.seq), type: 'ProductCreated' },
    ]);
    // The untouched original is still a duplicate.
    expect((await push(t.db, [original])).duplicates).toEqual([original.event_id]);
  });

  it('a projection that fails keeps its event as failed with the error, and the rest of the batch is projected', async () => {
    const store = randomUUID();
    const d = new DeviceSim(store);
    const badDebt = randomUUID();
    await sql`
      CREATE OR REPLACE FUNCTION test_refuse_debt() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = ${sql.lit(badDebt)}::uuid THEN RAISE EXCEPTION 'debt % refused by test trigger', NEW.id; END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER test_refuse_debt BEFORE INSERT OR UPDATE ON debts FOR EACH ROW EXECUTE FUNCTION test_refuse_debt()`.execute(
      t.db,
    );
    const product = randomUUID();
    const goodDebt = randomUUID();
    const events = [
      d.event('StockReceived', { product_id: product, qty: 5 }),
      d.event('DebtCreated', { debt_id: goodDebt, amount: 20 }),
      d.event('DebtCreated', { debt_id: badDebt, amount: 30 }),
      d.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: goodDebt, amount: 5 }),
      d.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: product, qty: 2, unit_price: 1 }],
      }),
    ];
    let r;
    try {
      r = await push(t.db, events);
    } finally {
      await sql`DROP TRIGGER test_refuse_debt ON debts`.execute(t.db);
    }
    const failedId = events[2]!.event_id;
    expect(r.accepted).toEqual(events.map((e) => e.event_id));
    expect(r.projectionFailures).toEqual([
      { event_id: failedId, type: 'DebtCreated', error: expect.stringContaining('refused by test trigger') },
    ]);

    const rows = await t.db
      .selectFrom('events')
      .select(['event_id', 'projection_status', 'projection_error'])
      .where(
        'event_id',
        'in',
        events.map((e) => e.event_id),
      )
      .execute();
    const byId = new Map(rows.map((x) => [x.event_id, x]));
    expect(byId.get(failedId)).toMatchObject({
      projection_status: 'failed',
      projection_error: expect.stringContaining(`debt ${badDebt} refused`),
    });
    for (const e of events.filter((x) => x.event_id !== failedId)) {
      expect(byId.get(e.event_id)).toMatchObject({ projection_status: 'processed', projection_error: null });
    }
    // The other events are projected exactly once.
    expect(await t.db.selectFrom('debts').select('id').where('id', '=', badDebt).execute()).toEqual([]);
    const good = await t.db
      .selectFrom('debts')
      .select(['remaining_amount', 'status'])
      .where('id', '=', goodDebt)
      .executeTakeFirstOrThrow();
    expect(good).toEqual({ remaining_amount: '15.00', status: 'partial' });
    const stock = await t.db
      .selectFrom('warehouse_stock')
      .select('stock')
      .where('product_id', '=', product)
      .executeTakeFirstOrThrow();
    expect(stock.stock).toBe('3.000');
    // The anti-entropy digest counts every stored event, failed or not.
    const digest = await t.db
      .selectFrom('event_digests')
      .select(sql<string>`sum(event_count)`.as('n'))
      .where('store_id', '=', store)
      .executeTakeFirstOrThrow();
    expect(Number(digest.n)).toBe(events.length);
  });

  it('a deadlock or serialization failure while projecting retries the request instead of failing events', async () => {
    const d = new DeviceSim(randomUUID());
    const debtId = randomUUID();
    // Fails the first two attempts to write this debt (a sequence is not rolled back with them).
    await sql`CREATE SEQUENCE test_transient`.execute(t.db);
    await sql`
      CREATE OR REPLACE FUNCTION test_transient() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = ${sql.lit(debtId)}::uuid AND nextval('test_transient') <= 2 THEN
          RAISE EXCEPTION 'simulated conflict' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER test_transient BEFORE INSERT ON debts FOR EACH ROW EXECUTE FUNCTION test_transient()`.execute(
      t.db,
    );
    const events = [
      d.event('DebtCreated', { debt_id: debtId, amount: 12 }),
      d.event('StockReceived', { product_id: randomUUID(), qty: 1 }),
    ];
    let r;
    try {
      r = await push(t.db, events);
    } finally {
      await sql`DROP TRIGGER test_transient ON debts`.execute(t.db);
      await sql`DROP SEQUENCE test_transient`.execute(t.db);
    }
    expect(r.projectionFailures).toEqual([]);
    expect(r.accepted).toEqual(events.map((e) => e.event_id));
    const debt = await t.db
      .selectFrom('debts')
      .select('remaining_amount')
      .where('id', '=', debtId)
      .executeTakeFirstOrThrow();
    expect(debt.remaining_amount).toBe('12.00');
    const statuses = await t.db
      .selectFrom('events')
      .select('projection_status')
      .where(
        'event_id',
        'in',
        events.map((e) => e.event_id),
      )
      .execute();
    expect(statuses).toEqual([{ projection_status: 'processed' }, { projection_status: 'processed' }]);
  });

  it('a single failing event alone in its request is also kept as failed', async () => {
    const d = new DeviceSim(randomUUID());
    const sale = d.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 2 }],
    });
    // The read model refuses this one sale (as a broken migration or a bad row would).
    await sql`
      CREATE FUNCTION test_refuse_sale() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = ${sql.lit(sale.payload.sale_id)}::uuid THEN RAISE EXCEPTION 'numeric field overflow (test)'; END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER test_refuse_sale BEFORE INSERT ON sales FOR EACH ROW EXECUTE FUNCTION test_refuse_sale()`.execute(
      t.db,
    );
    let r;
    try {
      r = await push(t.db, [sale]);
    } finally {
      await sql`DROP TRIGGER test_refuse_sale ON sales`.execute(t.db);
      await sql`DROP FUNCTION test_refuse_sale`.execute(t.db);
    }
    expect(r.accepted).toEqual([sale.event_id]);
    expect(r.projectionFailures).toEqual([
      { event_id: sale.event_id, type: 'SaleCreated', error: expect.stringMatching(/overflow/) },
    ]);
    const row = await t.db
      .selectFrom('events')
      .select(['projection_status', 'projection_error'])
      .where('event_id', '=', sale.event_id)
      .executeTakeFirstOrThrow();
    expect(row.projection_status).toBe('failed');
    expect(row.projection_error).toMatch(/overflow/);
  });

  it('totals beyond any till fit the read model: no overflow, so later pushes for the product keep working', async () => {
    const d = new DeviceSim(randomUUID());
    const productId = randomUUID();
    const big = () =>
      d.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: productId, qty: 1e12, unit_price: 1e13 }],
      });
    const received = d.event('StockReceived', { product_id: productId, qty: 1e12 });
    const r = await push(t.db, [big(), big(), received, big()]);
    expect(r.projectionFailures).toEqual([]);
    const stock = await t.db
      .selectFrom('warehouse_stock')
      .select('stock')
      .where('product_id', '=', productId)
      .executeTakeFirstOrThrow();
    expect(stock.stock).toBe('-2000000000000.000');
    const lines = await t.db
      .selectFrom('sale_items')
      .select('line_total')
      .where('product_id', '=', productId)
      .execute();
    expect(lines.map((l) => l.line_total)).toEqual(Array(3).fill('10000000000000000000000000.00'));
  });

  it('anti-entropy digests are the same whatever the batching and order', async () => {
    const store = randomUUID();
    const devices = [new DeviceSim(store), new DeviceSim(store)];
    const events = Array.from({ length: 30 }, (_, i) =>
      devices[i % 2]!.event(
        'StockDeltaApplied',
        { product_id: randomUUID(), qty_delta: i },
        { at: Date.parse('2026-11-20T12:00:00Z') + i * 600_000 },
      ),
    );
    const other = await createTestDatabase('ingest_b');
    try {
      await push(t.db, events);
      for (const e of [...events].reverse()) await push(other.db, [e]);
      const digests = (db: Db) =>
        db
          .selectFrom('event_digests')
          .select(['bucket_hour', 'event_count', sql<string>`digest::text`.as('digest')])
          .where('store_id', '=', store)
          .orderBy('bucket_hour')
          .execute();
      const mine = await digests(t.db);
      expect(mine.length).toBeGreaterThan(3);
      expect(await digests(other.db)).toEqual(mine);
    } finally {
      await other.drop();
    }
  });
});
