import { randomUUID } from 'node:crypto';
import { admin, createTestApp, type TestApp } from '../../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({
    RATE_LIMIT_MAX: '3',
    RATE_LIMIT_WINDOW_MS: '60000',
    CORS_ORIGINS: 'https://pos.example',
  });
});
afterAll(() => app.close());

test('a credential over its request budget gets 429 in the error shape; liveness is never limited', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { id: randomUUID(), name: `S${i}` },
    });
    statuses.push(res.statusCode);
    if (res.statusCode === 429) expect(res.json().error.code).toBe('RATE_LIMITED');
  }
  expect(statuses).toEqual([201, 201, 201, 429]);
  for (let i = 0; i < 5; i++)
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
});

test('security headers are set and CORS answers only the configured origins', async () => {
  const res = await app.inject({
    method: 'GET',
    url: '/healthz',
    headers: { origin: 'https://pos.example' },
  });
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['access-control-allow-origin']).toBe('https://pos.example');
  const other = await app.inject({
    method: 'GET',
    url: '/healthz',
    headers: { origin: 'https://evil.example' },
  });
  expect(other.headers['access-control-allow-origin']).toBeUndefined();
});
