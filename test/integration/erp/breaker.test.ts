import pino from 'pino';
import { BreakerOpenError, throughBreaker, type BreakerDeps } from '../../../infra/erp/breaker';
import { createDb, type Db } from '../../../infra/db';
import { listBreakers } from '../../../infra/repositories/erp-circuit-breakers';
import { createTestDatabase, type TestDatabase } from '../../support/db';

// The breaker is one row per vendor and API type: two processes (two pools here, as two workers
// would have) count into the same state, and once it opens neither makes the call.

let t: TestDatabase;
let other: Db;
beforeAll(async () => {
  t = await createTestDatabase('erp_breaker');
  other = createDb(t.url, 4);
});
afterAll(async () => {
  await other?.destroy();
  await t?.drop();
});

const deps = (db: Db, resetMs = 60_000): BreakerDeps => ({
  db,
  log: pino({ level: 'silent' }),
  alerts: { log: pino({ level: 'silent' }) },
  settings: { errorPercent: 50, volume: 5, resetMs, windowMs: 600_000 },
});
const fail = () => Promise.reject(new Error('agent down'));

test('failures from two workers open one shared breaker; then neither calls; half-open after the reset time', async () => {
  const workers = [deps(t.db, 500), deps(other, 500)];
  const outcomes = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => throughBreaker(workers[i % 2]!, 'v1', 'orders', fail)),
  );
  expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
  const [row] = await listBreakers(t.db, 'v1');
  expect(row).toMatchObject({ state: 'open' });
  expect(row!.failures).toBeGreaterThanOrEqual(5);

  let called = 0;
  for (const w of workers) {
    await expect(throughBreaker(w, 'v1', 'orders', async () => ++called)).rejects.toBeInstanceOf(
      BreakerOpenError,
    );
  }
  expect(called).toBe(0);
  // Another API type of the vendor is not affected.
  expect(await throughBreaker(workers[0]!, 'v1', 'items', async () => 'ok')).toBe('ok');

  await new Promise((r) => setTimeout(r, 600));
  expect(await throughBreaker(workers[1]!, 'v1', 'orders', async () => 'trial ok')).toBe('trial ok');
  expect((await listBreakers(t.db, 'v1')).find((b) => b.api_type === 'orders')).toMatchObject({
    state: 'closed',
    calls: 0,
  });
  const alerts = await t.db.selectFrom('alerts').select(['type', 'store_id']).execute();
  expect(alerts).toEqual([{ type: 'circuit_breaker_open', store_id: null }]);
});

test('below 5 calls or under 50 % failures the breaker stays closed', async () => {
  const w = deps(t.db);
  for (let i = 0; i < 4; i++) await throughBreaker(w, 'v2', 'orders', fail).catch(() => undefined);
  expect((await listBreakers(t.db, 'v2'))[0]).toMatchObject({ state: 'closed', calls: 4, failures: 4 });
  for (let i = 0; i < 5; i++) await throughBreaker(w, 'v3', 'orders', async () => 'ok');
  for (let i = 0; i < 4; i++) await throughBreaker(w, 'v3', 'orders', fail).catch(() => undefined);
  expect((await listBreakers(t.db, 'v3'))[0]).toMatchObject({ state: 'closed', calls: 9, failures: 4 });
});
