import { randomUUID } from 'node:crypto';
import { admin, createTestApp, type TestApp } from '../../support/app';

// The auto-reconcile route's refusals, without Temporal (the two-node test covers the real runs).

let lonely: TestApp;
let paired: TestApp;
const storeId = randomUUID();

beforeAll(async () => {
  lonely = await createTestApp();
  paired = await createTestApp({
    PEERS: JSON.stringify([
      { id: 'cloud', url: 'http://127.0.0.1:9', token: 'peer-token-auto-reconcile-0123456789' },
    ]),
  });
  for (const app of [lonely, paired]) {
    await app.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { id: storeId, name: 'Bodega' },
    });
  }
});
afterAll(async () => {
  await lonely?.close();
  await paired?.close();
});

const call = (app: TestApp, payload: unknown, headers = admin) =>
  app.inject({ method: 'POST', url: '/sync/federation/auto-reconcile', headers, payload: payload as object });

test('no peers configured: 409 NO_PEERS', async () => {
  const res = await call(lonely, { store_id: storeId });
  expect(res.statusCode).toBe(409);
  expect(res.json().error).toMatchObject({ code: 'NO_PEERS', message: expect.stringContaining('PEERS') });
});

test('unknown store: 404 STORE_NOT_FOUND; unknown peer: 404 PEER_NOT_FOUND', async () => {
  expect((await call(paired, { store_id: randomUUID() })).json().error.code).toBe('STORE_NOT_FOUND');
  const res = await call(paired, { store_id: storeId, peer_id: 'nowhere' });
  expect(res.statusCode).toBe(404);
  expect(res.json().error.code).toBe('PEER_NOT_FOUND');
});

test('bad input names the field; only admins may call it', async () => {
  const bad = await call(paired, { store_id: storeId, chunk_size: 5000 });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().error.message).toContain('body.chunk_size');
  const peer = await call(
    paired,
    { store_id: storeId },
    { authorization: 'Bearer peer-token-auto-reconcile-0123456789' },
  );
  expect(peer.statusCode).toBe(403);
});

test('a process without a Temporal client answers 503 instead of pretending', async () => {
  const res = await call(paired, { store_id: storeId });
  expect(res.statusCode).toBe(503);
  expect(res.json().error.code).toBe('TEMPORAL_UNAVAILABLE');
});
