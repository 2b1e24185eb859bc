import { admin, createTestApp, type TestApp } from '../../support/app';

describe('DOCS_ENABLED', () => {
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await createTestApp();
    off = await createTestApp({ DOCS_ENABLED: 'false' });
  });
  afterAll(async () => {
    await on.close();
    await off.close();
  });

  test('by default /docs serves the UI and /docs/json the OpenAPI of every device route', async () => {
    const ui = await on.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const doc = await on.inject({ method: 'GET', url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    const paths = doc.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    expect(Object.keys(paths['/stores/{store_id}/devices']!).sort()).toEqual(['get', 'post']);
    expect(paths['/stores/{store_id}/devices/{device_id}/revoke']).toHaveProperty('post');
    expect(paths['/stores/{store_id}/devices/{device_id}/rotate-token']).toHaveProperty('post');
  });

  test('DOCS_ENABLED=false: /docs and /docs/json are 404, the API still serves', async () => {
    for (const url of ['/docs', '/docs/', '/docs/json']) {
      const res = await off.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('NOT_FOUND');
    }
    const status = await off.inject({
      method: 'POST',
      url: '/stores',
      headers: admin,
      payload: { name: 'S' },
    });
    expect(status.statusCode).toBe(201);
  });
});
