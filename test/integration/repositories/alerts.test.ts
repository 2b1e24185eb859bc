import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { listAlerts, raiseAlert, raiseAlerts, setAlertStatus } from '../../../infra/repositories/alerts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('alerts');
});
afterAll(async () => {
  await t?.drop();
});

const oversell = (store: string, product: string) => ({
  type: 'OVERSELLING_DETECTED',
  severity: 'P1' as const,
  store_id: store,
  subject: `product ${product} is at -2`,
  dedup_key: `oversell:${store}:${product}`,
  payload: { product_id: product, qty: -2 },
});

describe('alerts', () => {
  it('a repeat inside the window is one more occurrence of the same alert, even when raised concurrently', async () => {
    const store = randomUUID();
    const product = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => raiseAlert(t.db, oversell(store, product))),
    );
    expect(results.filter((r) => r.raised)).toHaveLength(1);
    const rows = await listAlerts(t.db, { store_id: store });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'OVERSELLING_DETECTED', occurrences: 8, status: 'open' });
    expect(rows[0]!.payload).toEqual({ product_id: product, qty: -2 });
  });

  it('several alerts at once: repeats counted, new ones raised, a key twice in the list counts twice; concurrent callers overlap without a duplicate row', async () => {
    const store = randomUUID();
    const [p1, p2, p3] = [randomUUID(), randomUUID(), randomUUID()];
    await raiseAlert(t.db, oversell(store, p1));
    const results = await raiseAlerts(t.db, [oversell(store, p1), oversell(store, p2), oversell(store, p2)]);
    expect(results.map((r) => [r.raised, r.occurrences])).toEqual([
      [false, 2],
      [true, 2],
      [true, 2],
    ]);
    expect(results[1]!.id).toBe(results[2]!.id);
    // Overlapping sets from concurrent pushes, in different orders: one row per key, every count kept.
    await Promise.all([
      raiseAlerts(t.db, [oversell(store, p3), oversell(store, p1)]),
      raiseAlerts(t.db, [oversell(store, p2), oversell(store, p3)]),
      raiseAlerts(t.db, [oversell(store, p1), oversell(store, p2), oversell(store, p3)]),
    ]);
    const rows = await listAlerts(t.db, { store_id: store });
    const byProduct = new Map(
      rows.map((r) => [(r.payload as { product_id: string }).product_id, r.occurrences]),
    );
    expect(rows).toHaveLength(3);
    expect(Object.fromEntries(byProduct)).toEqual({ [p1]: 4, [p2]: 4, [p3]: 3 });
  });

  it('after the window, or once resolved, the same problem raises a new alert', async () => {
    const store = randomUUID();
    const product = randomUUID();
    const first = await raiseAlert(t.db, { ...oversell(store, product), windowMs: 50 });
    await new Promise((r) => setTimeout(r, 120));
    const second = await raiseAlert(t.db, { ...oversell(store, product), windowMs: 50 });
    expect(second).toMatchObject({ raised: true });
    expect(second.id).not.toBe(first.id);
    // Resolved alerts take no repeats: with both resolved, a one-hour window still raises anew.
    for (const a of [first, second]) expect(await setAlertStatus(t.db, a.id, 'resolved')).toBe(true);
    const third = await raiseAlert(t.db, oversell(store, product));
    expect(third.raised).toBe(true);
    expect(await listAlerts(t.db, { store_id: store })).toHaveLength(3);
  });

  it('a store reads its own alerts only; node-wide alerts have no store', async () => {
    const [s1, s2] = [randomUUID(), randomUUID()];
    const product = randomUUID();
    await raiseAlert(t.db, oversell(s1, product));
    await raiseAlert(t.db, oversell(s2, product));
    await raiseAlert(t.db, {
      type: 'agent_offline',
      severity: 'P2',
      store_id: null,
      subject: 'agent sap-1 offline',
    });
    expect((await listAlerts(t.db, { store_id: s1 })).map((a) => a.store_id)).toEqual([s1]);
    const nodeWide = await listAlerts(t.db, { store_id: null, type: 'agent_offline' });
    expect(nodeWide.map((a) => a.subject)).toEqual(['agent sap-1 offline']);
    expect(await setAlertStatus(t.db, '999999999', 'acknowledged')).toBe(false);
  });

  it('inside a transaction that rolls back, the alert is gone with the work that raised it', async () => {
    const store = randomUUID();
    await t.db
      .transaction()
      .execute(async (trx) => {
        await raiseAlert(trx, oversell(store, 'p'));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await listAlerts(t.db, { store_id: store })).toHaveLength(0);
  });
});
