import { randomUUID } from 'node:crypto';
import { admin, createTestApp, type TestApp } from '../../support/app';

// Strings PostgreSQL cannot store as sent (found by scripts/fuzz.ts: a NUL in a store name was a 500).
// Every admin route that stores or queries with free text answers 400 naming the field instead.

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

const NUL = 'Bodega\u0000Central';
const LONE_SURROGATE = 'Bodega \ud83d Central';

test.each([
  ['a NUL', NUL],
  ['an unpaired surrogate', LONE_SURROGATE],
])('a store name with %s is a 400 on body.name, and no store is made', async (_what, name) => {
  const id = randomUUID();
  const res = await app.inject({ method: 'POST', url: '/stores', headers: admin, payload: { id, name } });
  expect(res.statusCode).toBe(400);
  expect(res.json().error).toMatchObject({ code: 'VALIDATION_FAILED' });
  expect(res.json().error.message).toMatch(/^body\.name: contains an? (NUL|unpaired)/);
  const again = await app.inject({
    method: 'POST',
    url: '/stores',
    headers: admin,
    payload: { id, name: 'ok' },
  });
  expect(again.statusCode).toBe(201);
});

test('a device name with a NUL is a 400 on body.name', async () => {
  const storeId = randomUUID();
  await app.inject({ method: 'POST', url: '/stores', headers: admin, payload: { id: storeId, name: 'S' } });
  const res = await app.inject({
    method: 'POST',
    url: `/stores/${storeId}/devices`,
    headers: admin,
    payload: { name: NUL },
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.message).toMatch(/^body\.name: contains a NUL/);
});

test('dead letters: a NUL in the peer_id filter or in a resolve note is a 400', async () => {
  const list = await app.inject({ method: 'GET', url: '/admin/dead-letters?peer_id=a%00b', headers: admin });
  expect(list.statusCode).toBe(400);
  expect(list.json().error.message).toMatch(/^querystring\.peer_id: contains a NUL/);
  const resolve = await app.inject({
    method: 'POST',
    url: '/admin/dead-letters/1/resolve',
    headers: admin,
    payload: { note: NUL },
  });
  expect(resolve.statusCode).toBe(400);
  expect(resolve.json().error.message).toMatch(/^body\.note: contains a NUL/);
});
