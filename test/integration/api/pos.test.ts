import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildPos } from '../../../scripts/build-pos';
import { createTestApp, type TestApp } from '../../support/app';

// The POS page's static route: public files from the bundle, a strict CSP, a service worker allowed
// to control /pos, nothing else of the folder reachable, and a clear 404 while the bundle is missing.

let app: TestApp;
let missing: TestApp;
const dir = mkdtempSync(path.join(tmpdir(), 'velox-pos-route-'));
beforeAll(async () => {
  await buildPos(dir);
  app = await createTestApp({ POS_DIR: dir });
  missing = await createTestApp({ POS_DIR: path.join(dir, 'not-built') });
});
afterAll(async () => {
  await app.close();
  await missing.close();
  rmSync(dir, { recursive: true, force: true });
});

test('GET /pos serves the page without a token, under a CSP that allows its own origin only', async () => {
  const res = await app.inject({ method: 'GET', url: '/pos' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.body).toContain('<script defer src="/pos/app.js"></script>');
  expect(res.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
  expect(res.body).not.toMatch(/https?:\/\//);
});

test('the bundle and the service worker are served, the worker allowed to control /pos', async () => {
  const js = await app.inject({ method: 'GET', url: '/pos/app.js' });
  expect([js.statusCode, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
  const sw = await app.inject({ method: 'GET', url: '/pos/sw.js' });
  expect(sw.statusCode).toBe(200);
  expect(sw.headers['service-worker-allowed']).toBe('/pos');
  expect(sw.headers['cache-control']).toBe('no-cache');
});

test('only the bundle files are reachable', async () => {
  for (const url of ['/pos/version.txt', '/pos/index.html', '/pos/..%2F..%2Fpackage.json', '/pos/%2e%2e']) {
    const res = await app.inject({ method: 'GET', url });
    expect([url, res.statusCode]).toEqual([url, 404]);
  }
});

test('without a built bundle /pos is a 404 that says how to build it', async () => {
  const res = await missing.inject({ method: 'GET', url: '/pos' });
  expect(res.statusCode).toBe(404);
  expect(res.json()).toMatchObject({
    error: { code: 'NOT_FOUND', message: expect.stringMatching(/build:pos/) },
  });
});
