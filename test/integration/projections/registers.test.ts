import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, tableRows } from '../../support/projections';
import { stampOf } from '../../../domain/crdt/lww';
import type { Db } from '../../../infra/db';
import type { SyncEvent } from '../../../domain/events/schemas';

let a: TestDatabase;
let b: TestDatabase;

beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase('registers_a'), createTestDatabase('registers_b')]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

const product = (db: Db, id: string) =>
  db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const audits = (db: Db, entityId: string) =>
  db
    .selectFrom('conflict_audit_log')
    .selectAll()
    .where('entity_id', '=', entityId)
    .orderBy('winner_event_id')
    .execute();
const stamp = (e: SyncEvent) =>
  stampOf({
    event_id: e.event_id,
    device_id: e.device_id,
    origin_node: 'node-a',
    hlc: new Date(e.created_at),
  });

/** A product created on one device, seen by two others that then edit it without seeing each other. */
function concurrentEdits() {
  const store = randomUUID();
  const productId = randomUUID();
  const creator = new DeviceSim(store, 'till-0');
  const created = creator.event('ProductCreated', {
    product_id: productId,
    name: 'Coffee',
    price: 2,
    sku: 'C-1',
    category: 'drinks',
  });
  const left = new DeviceSim(store, 'till-1');
  const right = new DeviceSim(store, 'till-2');
  for (const d of [left, right]) d.observe(created.vector_clock);
  const at = Date.parse(created.created_at) + 60_000;
  const l = left.event('ProductUpdated', { product_id: productId, price: 3, name: 'Coffee (L)' }, { at });
  const r = right.event('ProductUpdated', { product_id: productId, price: 4, barcode: '777' }, { at });
  return { store, productId, created, l, r };
}

describe('products, customers and cash sessions (per-field last-writer-wins)', () => {
  it('concurrent updates from two devices: the same winner per field in any order, and one audit row', async () => {
    const s = concurrentEdits();
    // Same created_at: the tie breaks on device id, so till-2 wins the field both wrote.
    await push(a.db, [s.created]);
    await push(a.db, [s.l]);
    await push(a.db, [s.r]);
    await push(b.db, [s.r, s.created]);
    await push(b.db, [s.l]);

    for (const t of [a, b]) {
      const p = await product(t.db, s.productId);
      expect(p).toMatchObject({
        price: '4.00',
        name: 'Coffee (L)',
        barcode: '777',
        sku: 'C-1',
        category: 'drinks',
        active: true,
        track_inventory: true,
      });
      expect(p.field_stamps).toMatchObject({
        price: stamp(s.r),
        name: stamp(s.l),
        barcode: stamp(s.r),
        sku: stamp(s.created),
      });

      const rows = await audits(t.db, s.productId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        store_id: s.store,
        entity_type: 'product',
        field: 'price',
        strategy: 'lww',
        winner_event_id: s.r.event_id,
        loser_event_ids: [s.l.event_id],
        winner_payload: s.r.payload,
        loser_payloads: [s.l.payload],
        resolved_by: 'auto',
      });
    }
    expect(await tableRows(a.db, 'products')).toEqual(await tableRows(b.db, 'products'));
  });

  it('the audit keeps a bounded copy: a large payload is referenced by its event id and size', async () => {
    const s = concurrentEdits();
    const big = { ...s.l, payload: { ...s.l.payload, notes: 'x'.repeat(6000) } } as SyncEvent;
    await push(a.db, [s.created, big, s.r]);
    const [row] = (await audits(a.db, s.productId)).filter((x) => x.strategy === 'lww');
    const copies = [row!.winner_payload, ...((row!.loser_payloads as unknown[]) ?? [])];
    expect(copies).toContainEqual({ event_id: big.event_id, truncated: true, bytes: expect.any(Number) });
    // The other side's small payload is copied whole.
    expect(copies).toContainEqual(expect.objectContaining({ product_id: s.productId, price: 4 }));
  });

  it('a later created_at wins over a device-id tie-break, and the result is reported as audited', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const early = new DeviceSim(store, 'zz-device').event('ProductCreated', {
      product_id: productId,
      name: 'Tea',
      price: 1,
    });
    const late = new DeviceSim(store, 'aa-device').event(
      'ProductCreated',
      { product_id: productId, name: 'Green tea', price: 1.5 },
      { at: Date.parse(early.created_at) + 1 },
    );
    const r1 = await push(a.db, [late]);
    const r2 = await push(a.db, [early]);
    expect(r1.conflictsAudited).toBe(0);
    expect(r2.conflictsAudited).toBe(1);
    expect(await product(a.db, productId)).toMatchObject({ name: 'Green tea', price: '1.50' });
    const [row] = await audits(a.db, productId);
    expect(row).toMatchObject({
      winner_event_id: late.event_id,
      loser_event_ids: [early.event_id],
      field: 'name,price,track_inventory,active',
    });
  });

  it('causally ordered updates write no audit row, whatever the arrival order', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const d1 = new DeviceSim(store);
    const d2 = new DeviceSim(store);
    const created = d1.event('ProductCreated', { product_id: productId, name: 'Bread', price: 1 });
    const u1 = d1.event('ProductUpdated', { product_id: productId, price: 1.1 });
    d2.observe(u1.vector_clock);
    const u2 = d2.event(
      'ProductUpdated',
      { product_id: productId, price: 1.2, name: 'Bread (big)' },
      { at: Date.parse(u1.created_at) + 1000 },
    );

    const results = [await push(a.db, [u2]), await push(a.db, [u1]), await push(a.db, [created])];
    expect(results.map((r) => r.conflictsAudited)).toEqual([0, 0, 0]);
    expect(await audits(a.db, productId)).toEqual([]);
    expect(await product(a.db, productId)).toMatchObject({
      name: 'Bread (big)',
      price: '1.20',
      active: true,
    });
  });

  it('an update with an upper-case product id edits the same product and keeps its other fields', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const d = new DeviceSim(store);
    await push(a.db, [
      d.event('ProductCreated', { product_id: productId, name: 'Milk', price: 1, sku: 'M-1' }),
    ]);
    await push(a.db, [d.event('ProductUpdated', { product_id: productId.toUpperCase(), price: 1.25 })]);
    expect(
      await a.db.selectFrom('products').select('id').where('store_id', '=', store).execute(),
    ).toHaveLength(1);
    expect(await product(a.db, productId)).toMatchObject({
      name: 'Milk',
      sku: 'M-1',
      price: '1.25',
      active: true,
    });
  });

  it('an audit that cannot be written never fails the push', async () => {
    const s = concurrentEdits();
    await push(a.db, [s.created, s.l]);
    await sql`ALTER TABLE conflict_audit_log RENAME TO conflict_audit_log_away`.execute(a.db);
    try {
      const r = await push(a.db, [s.r]);
      expect(r.accepted).toEqual([s.r.event_id]);
      expect(r.projectionFailures).toEqual([]);
      expect(r.conflictsAudited).toBe(0);
    } finally {
      await sql`ALTER TABLE conflict_audit_log_away RENAME TO conflict_audit_log`.execute(a.db);
    }
    expect(await product(a.db, s.productId)).toMatchObject({
      price: '4.00',
      barcode: '777',
      name: 'Coffee (L)',
    });
    const ev = await a.db
      .selectFrom('events')
      .select('projection_status')
      .where('event_id', '=', s.r.event_id)
      .executeTakeFirstOrThrow();
    expect(ev.projection_status).toBe('processed');
    expect(await audits(a.db, s.productId)).toEqual([]);
  });

  it('customers: an update before the create converges to the same row, with field defaults from the create', async () => {
    const store = randomUUID();
    const customerId = randomUUID();
    const d = new DeviceSim(store);
    const created = d.event('CustomerCreated', {
      customer_id: customerId,
      name: 'Ana',
      phone: '1',
      credit_limit: 100,
    });
    const updated = d.event('CustomerUpdated', { customer_id: customerId, phone: '2', active: false });
    await push(a.db, [updated]);
    const partial = await a.db
      .selectFrom('customers')
      .selectAll()
      .where('id', '=', customerId)
      .executeTakeFirstOrThrow();
    expect(partial).toMatchObject({ name: null, phone: '2', active: false });
    await push(a.db, [created]);
    await push(b.db, [created, updated]);
    for (const t of [a, b]) {
      const c = await t.db
        .selectFrom('customers')
        .selectAll()
        .where('id', '=', customerId)
        .executeTakeFirstOrThrow();
      expect(c).toMatchObject({ name: 'Ana', phone: '2', credit_limit: '100.00', active: false });
    }
    expect(await tableRows(a.db, 'customers')).toEqual(await tableRows(b.db, 'customers'));
  });

  it('cash sessions: close before open gives the same record; concurrent closes are audited', async () => {
    const store = randomUUID();
    const sessionId = randomUUID();
    const d = new DeviceSim(store, 'till-1');
    const opened = d.event('CashSessionOpened', { session_id: sessionId, opening_amount: 50 });
    const other = new DeviceSim(store, 'till-2');
    other.observe(opened.vector_clock);
    const at = Date.parse(opened.created_at) + 3_600_000;
    const closedHere = d.event('CashSessionClosed', { session_id: sessionId, closing_amount: 80 }, { at });
    const closedThere = other.event(
      'CashSessionClosed',
      { session_id: sessionId, closing_amount: 81, notes: 'recount' },
      { at: at + 1 },
    );

    await push(a.db, [closedThere]);
    await push(a.db, [closedHere]);
    await push(a.db, [opened]);
    await push(b.db, [opened, closedHere, closedThere]);
    for (const t of [a, b]) {
      const row = await t.db
        .selectFrom('cash_sessions')
        .selectAll()
        .where('id', '=', sessionId)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        device_id: 'till-1',
        opening_amount: '50.00',
        closing_amount: '81.00',
        notes: 'recount',
        opened_at: new Date(opened.created_at),
        closed_at: new Date(closedThere.created_at),
      });
      const [audit] = await audits(t.db, sessionId);
      expect(audit).toMatchObject({
        entity_type: 'cash_session',
        winner_event_id: closedThere.event_id,
        loser_event_ids: [closedHere.event_id],
      });
    }
    expect(await tableRows(a.db, 'cash_sessions')).toEqual(await tableRows(b.db, 'cash_sessions'));
  });
});

describe('a device clock is not trusted: causality first, then a bounded stamp', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a tablet set to 2099 does not win forever: its own later, correctly clocked update wins', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const d = new DeviceSim(store, 'tablet-d');
    d.event('StockReceived', { product_id: productId, qty: 1 }); // seq 1, not pushed: {D:2} below
    const created = {
      ...d.event('ProductCreated', { product_id: productId, name: 'Arepa', price: 1 }),
      created_at: '2099-06-01T10:00:00.000Z',
    };
    const updated = {
      ...d.event('ProductUpdated', { product_id: productId, price: 2 }),
      created_at: new Date().toISOString(),
    };
    expect(created.vector_clock).toEqual({ 'tablet-d': 2 });
    expect(updated.vector_clock).toEqual({ 'tablet-d': 3 });
    await push(a.db, [created]);
    await push(a.db, [updated]);
    const p = await product(a.db, productId);
    expect(p).toMatchObject({ price: '2.00', name: 'Arepa' });

    // The device's created_at is kept as sent; the ordering stamp is bounded by the node's clock.
    const row = await a.db
      .selectFrom('events')
      .select(['created_at', 'hlc'])
      .where('event_id', '=', created.event_id)
      .executeTakeFirstOrThrow();
    expect(row.created_at.toISOString()).toBe('2099-06-01T10:00:00.000Z');
    expect(row.hlc.getTime()).toBeLessThanOrEqual(Date.now() + 5 * 60_000);
    const [clamp] = await a.db
      .selectFrom('conflict_audit_log')
      .selectAll()
      .where('entity_id', '=', created.event_id)
      .execute();
    expect(clamp).toMatchObject({ entity_type: 'event', strategy: 'clock-bounded', field: 'created_at' });
    expect(clamp!.details).toMatchObject({ created_at: '2099-06-01T10:00:00.000Z' });
    expect(JSON.stringify(clamp!.details)).toMatch(/ahead of node/);
  });

  it('the same in one batch, and on another node that receives both in the other order', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const d = new DeviceSim(store, 'tablet-e');
    const created = {
      ...d.event('ProductCreated', { product_id: productId, name: 'Pan', price: 1 }),
      created_at: '2099-06-01T10:00:00.000Z',
    };
    const updated = {
      ...d.event('ProductUpdated', { product_id: productId, price: 3 }),
      created_at: new Date().toISOString(),
    };
    await push(a.db, [created, updated]);
    expect(await product(a.db, productId)).toMatchObject({ price: '3.00' });
    // B receives them relayed (stamps travel with the events), the update first.
    const relayed = await a.db
      .selectFrom('events')
      .select(['event_id', 'hlc'])
      .where('store_id', '=', store)
      .execute();
    const hlc = new Map(relayed.map((r) => [r.event_id, r.hlc.toISOString()]));
    await push(b.db, [{ ...updated, origin_node: 'node-a', hlc: hlc.get(updated.event_id) }], {
      source: 'system-federation',
    });
    await push(b.db, [{ ...created, origin_node: 'node-a', hlc: hlc.get(created.event_id) }], {
      source: 'system-federation',
    });
    expect(await product(b.db, productId)).toMatchObject({ price: '3.00' });
    expect((await product(b.db, productId)).field_stamps).toEqual(
      (await product(a.db, productId)).field_stamps,
    );
  });

  it('in one batch the stamps follow causality, whatever order the sender put the events in', async () => {
    // Two devices, the same millisecond: till-b saw till-a's write and overwrote it. Sent as one batch
    // with the overwrite first, and (to another node) with it last: the overwrite wins on both, with the
    // same stamps, so the two nodes agree when they meet.
    const store = randomUUID();
    const productId = randomUUID();
    const at = Date.now() - 60_000;
    const first = new DeviceSim(store, 'till-a');
    const created = first.event('ProductCreated', { product_id: productId, name: 'Queso', price: 1 }, { at });
    const second = new DeviceSim(store, 'till-b');
    second.observe(created.vector_clock);
    const overwrite = second.event('ProductUpdated', { product_id: productId, price: 5 }, { at });
    expect(overwrite.created_at).toBe(created.created_at);
    await push(a.db, [overwrite, created]);
    await push(b.db, [created, overwrite]);
    const stamps = (db: Db) =>
      db
        .selectFrom('events')
        .select(['event_id', 'hlc'])
        .where('store_id', '=', store)
        .orderBy('event_id')
        .execute();
    const [sa, sb] = [await stamps(a.db), await stamps(b.db)];
    expect(sa).toEqual(sb);
    const hlc = new Map(sa.map((r) => [r.event_id, r.hlc.getTime()]));
    expect(hlc.get(overwrite.event_id)!).toBeGreaterThan(hlc.get(created.event_id)!);
    for (const db of [a.db, b.db]) expect(await product(db, productId)).toMatchObject({ price: '5.00' });
  });

  it('between concurrent writes the wrong clock wins only within the skew: later real time beats it', async () => {
    const store = randomUUID();
    const productId = randomUUID();
    const creator = new DeviceSim(store, 'till-x');
    const created = creator.event('ProductCreated', { product_id: productId, name: 'Leche', price: 1 });
    await push(a.db, [created], { maxSkewMs: 300 });
    const future = new DeviceSim(store, 'tablet-2099');
    const honest = new DeviceSim(store, 'till-y');
    for (const dev of [future, honest]) dev.observe(created.vector_clock);
    const wrong = {
      ...future.event('ProductUpdated', { product_id: productId, price: 9 }),
      created_at: '2099-01-01T00:00:00.000Z',
    };
    await push(a.db, [wrong], { maxSkewMs: 300 });
    await sleep(600);
    const right = {
      ...honest.event('ProductUpdated', { product_id: productId, price: 4 }),
      created_at: new Date().toISOString(),
    };
    await push(a.db, [right], { maxSkewMs: 300 });
    expect(await product(a.db, productId)).toMatchObject({ price: '4.00' });
    const [lww] = (await audits(a.db, productId)).filter((x) => x.strategy === 'lww');
    expect(lww).toMatchObject({ winner_event_id: right.event_id, loser_event_ids: [wrong.event_id] });
  });
});
