import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { DeviceSim } from '../../support/events';
import { push, stockDivergence } from '../../support/projections';
import type { SyncEvent } from '../../../domain/events/schemas';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('stock');
});
afterAll(async () => {
  await t?.drop();
});

/** Stock events from many devices over two products and two warehouses, with the exact expected sums. */
function workload(devices: number, perDevice: number) {
  const store = randomUUID();
  const products = [randomUUID(), randomUUID()];
  const warehouses = [store, randomUUID()];
  const expected = new Map<string, number>();
  const byDevice: SyncEvent[][] = [];
  for (let d = 0; d < devices; d++) {
    const sim = new DeviceSim(store, `till-${d}`);
    const events: SyncEvent[] = [];
    for (let i = 0; i < perDevice; i++) {
      const product = products[(d + i) % 2]!;
      const warehouse = warehouses[i % 3 === 0 ? 1 : 0]!;
      // Thousandths: the sums must be exact (numeric), not floating point.
      const qty = ((d * 7 + i * 13) % 50) / 8 + 0.125;
      const kind = i % 4;
      let e: SyncEvent;
      let delta: number;
      if (kind === 0) {
        e = sim.event('StockReceived', { product_id: product, warehouse_id: warehouse, qty });
        delta = qty;
      } else if (kind === 1) {
        e = sim.event('StockAdjusted', { product_id: product, warehouse_id: warehouse, qty_delta: -qty });
        delta = -qty;
      } else if (kind === 2) {
        e = sim.event('StockDeltaApplied', {
          product_id: product,
          warehouse_id: warehouse === store ? undefined : warehouse,
          qty_delta: qty,
        });
        delta = qty;
      } else {
        const wh = warehouse === store ? {} : { warehouse_id: warehouse };
        e = sim.event('SaleCreated', {
          sale_id: randomUUID(),
          ...wh,
          items: [
            { product_id: product, qty, unit_price: 1 },
            { product_id: product, qty: 1, unit_price: 2 },
          ],
        });
        delta = -qty - 1;
      }
      const key = `${warehouse}|${product}`;
      expected.set(key, (expected.get(key) ?? 0) + delta);
      events.push(e);
    }
    byDevice.push(events);
  }
  return { store, expected, byDevice };
}

async function actual(store: string): Promise<Map<string, number>> {
  const rows = await t.db
    .selectFrom('warehouse_stock')
    .select(['warehouse_id', 'product_id', 'stock'])
    .where('store_id', '=', store)
    .execute();
  return new Map(rows.map((r) => [`${r.warehouse_id}|${r.product_id}`, Number(r.stock)]));
}

function rounded(m: Map<string, number>): Map<string, number> {
  return new Map([...m].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}

describe('stock (PN-counter over movements)', () => {
  it('movements from many devices, pushed one device after another, sum exactly', async () => {
    const w = workload(8, 25);
    for (const events of w.byDevice) await push(t.db, events);
    expect(await actual(w.store)).toEqual(rounded(w.expected));
    expect(await stockDivergence(t.db)).toEqual([]);
  });

  it('concurrent pushes from many devices, with re-sends, sum exactly', async () => {
    const w = workload(10, 20);
    await Promise.all(
      w.byDevice.map(async (events) => {
        for (let i = 0; i < events.length; i += 5) {
          const r = await push(t.db, events.slice(i, i + 5));
          expect(r.projectionFailures).toEqual([]);
        }
        // A device that lost the acknowledgement sends everything again.
        const again = await push(t.db, events);
        expect(again.duplicates).toHaveLength(events.length);
      }),
    );
    expect(await actual(w.store)).toEqual(rounded(w.expected));
    const movements = await t.db
      .selectFrom('stock_movements')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('store_id', '=', w.store)
      .executeTakeFirstOrThrow();
    // One movement per stock event, two per sale (two lines).
    expect(Number(movements.n)).toBe(10 * 20 + 10 * 5);
    expect(await stockDivergence(t.db)).toEqual([]);
  });

  it('concurrent pushes selling, voiding and counting the same products never fail a projection', async () => {
    // Devices hours apart: their pushes touch different digest buckets, so nothing serialises them
    // before the projections, and every batch contends for the same few warehouse_stock rows.
    const store = randomUUID();
    const products = Array.from({ length: 40 }, () => randomUUID());
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const pick = <T>(list: T[]) => list[Math.floor(rnd() * list.length)]!;
    const expected = new Map<string, number>();
    const add = (product: string, qty: number) => expected.set(product, (expected.get(product) ?? 0) + qty);
    const devices = Array.from({ length: 6 }, (_, d) => {
      const sim = new DeviceSim(store, `till-${d}`, Date.parse('2026-11-20T00:00:00Z') + d * 3 * 3_600_000);
      const sales: { id: string; lines: { product_id: string; qty: number }[]; voided: boolean }[] = [];
      const batches: SyncEvent[][] = [];
      for (let b = 0; b < 12; b++) {
        const batch: SyncEvent[] = [];
        for (let i = 0; i < 30; i++) {
          const x = rnd();
          const open = sales.filter((s) => !s.voided);
          if (x < 0.2 && open.length > 0) {
            const sale = pick(open);
            sale.voided = true;
            for (const l of sale.lines) add(l.product_id, l.qty);
            batch.push(sim.event('SaleVoided', { sale_id: sale.id }));
          } else if (x < 0.7) {
            const lines = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({
              product_id: pick(products),
              qty: 1 + Math.floor(rnd() * 3),
              unit_price: 1,
            }));
            const sale = { id: randomUUID(), lines, voided: false };
            sales.push(sale);
            for (const l of lines) add(l.product_id, -l.qty);
            batch.push(sim.event('SaleCreated', { sale_id: sale.id, items: lines }));
          } else {
            const product = pick(products);
            add(product, 2);
            batch.push(sim.event('StockReceived', { product_id: product, qty: 2 }));
          }
        }
        batches.push(batch);
      }
      return batches;
    });

    const failures: unknown[] = [];
    await Promise.all(
      devices.map(async (batches) => {
        for (const batch of batches) failures.push(...(await push(t.db, batch)).projectionFailures);
      }),
    );
    expect(failures).toEqual([]);
    const rows = await t.db
      .selectFrom('warehouse_stock')
      .select(['product_id', 'stock'])
      .where('store_id', '=', store)
      .execute();
    expect(new Map(rows.map((r) => [r.product_id, Number(r.stock)]))).toEqual(expected);
    expect(await stockDivergence(t.db)).toEqual([]);
    // Deadlocks that fall back to one event at a time cascade for minutes: a time bound is part of it.
  }, 30_000);
});
