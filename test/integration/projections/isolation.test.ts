import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, tableRows } from '../../support/projections';
import { PROJECTION_TABLES } from '../../../infra/db/schema';
import type { SyncEvent } from '../../../domain/events/schemas';

// Stores are tenants: two stores that reuse every entity id hold two independent sets of rows, and
// nothing an event of one store does reads, changes, voids, pays or audits anything of the other.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('isolation');
});
afterAll(async () => {
  await t?.drop();
});

/** The same entity ids, used by both stores. */
const ids = {
  product: randomUUID(),
  customer: randomUUID(),
  session: randomUUID(),
  sale: randomUUID(),
  debt: randomUUID(),
  payment: randomUUID(),
  entry: randomUUID(),
  warehouse: randomUUID(),
  grant: randomUUID(),
  move: randomUUID(),
};

/** One store's day: every projection family, with its own amounts. */
function day(d: DeviceSim, price: number): SyncEvent[] {
  const sale = d.event('SaleCreated', {
    sale_id: ids.sale,
    warehouse_id: ids.warehouse,
    items: [{ product_id: ids.product, qty: 2, unit_price: price }],
  });
  // Escrow events are node-made; here they come as a peer would relay them, with the same ids in both stores.
  const node = 'node-x';
  const escrow = [
    d.event('EscrowRightsMoved', {
      move_id: ids.move,
      product_id: ids.product,
      from_node: 'node-y',
      to_node: node,
      qty: price,
    }),
    d.event('EscrowGranted', {
      grant_id: ids.grant,
      node_id: node,
      device_id: d.deviceId,
      product_id: ids.product,
      qty: price,
      expires_at: '2026-11-20T16:00:00.000Z',
    }),
    d.event('EscrowConsumed', {
      node_id: node,
      device_id: d.deviceId,
      sale_id: ids.sale,
      sale_event_id: sale.event_id,
      lines: [{ grant_id: ids.grant, line_no: 1, product_id: ids.product, qty: 2 }],
    }),
    d.event('EscrowReleased', {
      grant_id: ids.grant,
      node_id: node,
      product_id: ids.product,
      qty_released: price - 2,
    }),
  ];
  return [
    d.event('ProductCreated', { product_id: ids.product, name: `Harina ${price}`, price }),
    d.event('CustomerCreated', { customer_id: ids.customer, name: `Carmen ${price}` }),
    d.event('CashSessionOpened', { session_id: ids.session, opening_amount: price * 10 }),
    d.event('StockReceived', { product_id: ids.product, warehouse_id: ids.warehouse, qty: price * 4 }),
    sale,
    ...escrow,
    d.event('DebtCreated', { debt_id: ids.debt, customer_id: ids.customer, amount: price * 3 }),
    d.event('DebtPaymentRecorded', { payment_id: ids.payment, debt_id: ids.debt, amount: price }),
    d.event('CashLedgerEntryCreated', {
      entry_id: ids.entry,
      session_id: ids.session,
      kind: 'in',
      amount: price,
    }),
  ];
}

const rowsOf = async (store: string) => {
  const out: Record<string, string[]> = {};
  for (const table of PROJECTION_TABLES) out[table] = await tableRows(t.db, table, [store]);
  return out;
};

test('two stores reusing every entity id: independent rows in every table, and no event of one touches the other', async () => {
  const storeA = randomUUID();
  const storeB = randomUUID();
  const a = new DeviceSim(storeA);
  const b = new DeviceSim(storeB);
  const resultB = await push(t.db, day(b, 5));
  expect(resultB.projectionFailures).toEqual([]);
  const bBefore = await rowsOf(storeB);
  // Every table but sale_voids holds rows of B (B voids nothing).
  for (const table of PROJECTION_TABLES.filter((x) => x !== 'sale_voids')) {
    expect(bBefore[table]!.length).toBeGreaterThan(0);
  }

  // Store A does the same day with the same ids, then re-prices, voids, pays, closes and edits.
  const resultA = await push(t.db, day(a, 7));
  expect(resultA.projectionFailures).toEqual([]);
  const attack = await push(t.db, [
    a.event('ProductUpdated', { product_id: ids.product, price: 99 }),
    a.event('CustomerUpdated', { customer_id: ids.customer, name: 'Someone else' }),
    a.event('SaleVoided', { sale_id: ids.sale, reason: 'mistake' }),
    a.event('DebtPaymentAdded', { payment_id: randomUUID(), debt_id: ids.debt, amount: 14 }),
    a.event('CashSessionClosed', { session_id: ids.session, closing_amount: 1 }),
    a.event('StockAdjusted', { product_id: ids.product, warehouse_id: ids.warehouse, qty_delta: -3 }),
  ]);
  expect(attack.projectionFailures).toEqual([]);

  // Store B's rows are exactly what they were.
  expect(await rowsOf(storeB)).toEqual(bBefore);

  // Store A got all of it, on its own rows.
  const product = await t.db
    .selectFrom('products')
    .selectAll()
    .where('store_id', '=', storeA)
    .where('id', '=', ids.product)
    .executeTakeFirstOrThrow();
  expect(product).toMatchObject({ price: '99.00', name: 'Harina 7' });
  const sale = await t.db
    .selectFrom('sales')
    .select(['store_id', 'voided_at', 'total'])
    .where('id', '=', ids.sale)
    .orderBy('store_id')
    .execute();
  expect(sale).toHaveLength(2);
  expect(sale.find((s) => s.store_id === storeA)!.voided_at).not.toBeNull();
  expect(sale.find((s) => s.store_id === storeB)).toMatchObject({ voided_at: null, total: '10.00' });
  const debts = await t.db
    .selectFrom('debts')
    .select(['store_id', 'remaining_amount', 'status'])
    .where('id', '=', ids.debt)
    .execute();
  expect(debts.find((d) => d.store_id === storeA)).toMatchObject({
    remaining_amount: '0.00',
    status: 'paid',
  });
  expect(debts.find((d) => d.store_id === storeB)).toMatchObject({
    remaining_amount: '10.00',
    status: 'partial',
  });
  const stock = await t.db
    .selectFrom('warehouse_stock')
    .select(['store_id', 'stock'])
    .where('product_id', '=', ids.product)
    .execute();
  // A: 28 received − 2 sold + 2 restocked by the void − 3 adjusted; B: 20 − 2.
  expect(Object.fromEntries(stock.map((s) => [s.store_id, s.stock]))).toEqual({
    [storeA]: '25.000',
    [storeB]: '18.000',
  });
});

test("the conflict audit of a store never shows another store's payload", async () => {
  const storeA = randomUUID();
  const storeB = randomUUID();
  const productId = randomUUID();
  // Concurrent edits in B (audited there).
  const creatorB = new DeviceSim(storeB);
  const created = creatorB.event('ProductCreated', { product_id: productId, name: 'Queso', price: 3 });
  const [left, right] = [new DeviceSim(storeB), new DeviceSim(storeB)];
  for (const d of [left, right]) d.observe(created.vector_clock);
  await push(t.db, [created]);
  await push(t.db, [left.event('ProductUpdated', { product_id: productId, price: 4 })]);
  await push(t.db, [right.event('ProductUpdated', { product_id: productId, price: 5 })]);
  // Concurrent edits of the same product id in A.
  const creatorA = new DeviceSim(storeA);
  const createdA = creatorA.event('ProductCreated', { product_id: productId, name: 'Queso A', price: 30 });
  const [l, r] = [new DeviceSim(storeA), new DeviceSim(storeA)];
  for (const d of [l, r]) d.observe(createdA.vector_clock);
  await push(t.db, [createdA]);
  await push(t.db, [l.event('ProductUpdated', { product_id: productId, price: 40 })]);
  await push(t.db, [r.event('ProductUpdated', { product_id: productId, price: 50 })]);

  const audit = await t.db
    .selectFrom('conflict_audit_log')
    .selectAll()
    .where('entity_id', '=', productId)
    .execute();
  expect(audit.map((x) => x.store_id).sort()).toEqual([storeA, storeB].sort());
  for (const row of audit) {
    const payloads = JSON.stringify([row.winner_payload, row.loser_payloads]);
    const [own, other] =
      row.store_id === storeA
        ? [
            ['40', '50'],
            ['4', '5'],
          ]
        : [
            ['4', '5'],
            ['40', '50'],
          ];
    for (const p of own) expect(payloads).toContain(`"price":${p}`);
    for (const p of other) expect(payloads).not.toContain(`"price":${p}}`);
    expect(row.winner_payload).not.toBeNull();
    expect(row.loser_payloads).not.toBeNull();
  }
});
