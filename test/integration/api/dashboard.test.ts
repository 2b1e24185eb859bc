import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDashboard } from '../../../scripts/build-dashboard';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';

// The dashboard's static route and the store list it picks from: public files from the bundle
// (uPlot inside, no CDN), a CSP of its own origin that forbids form submission, the runbooks with
// their section anchors, nothing else of the folder reachable; GET /stores for admins only.

let app: TestApp;
let missing: TestApp;
const dir = mkdtempSync(path.join(tmpdir(), 'velox-dashboard-route-'));
beforeAll(async () => {
  await buildDashboard(dir);
  app = await createTestApp({ DASHBOARD_DIR: dir });
  missing = await createTestApp({ DASHBOARD_DIR: path.join(dir, 'not-built') });
});
afterAll(async () => {
  await app.close();
  await missing.close();
  rmSync(dir, { recursive: true, force: true });
});

test('GET /dashboard serves the page without a token, under a CSP of its own origin with no form target', async () => {
  const res = await app.inject({ method: 'GET', url: '/dashboard' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.body).toContain('<script defer src="/dashboard/app.js"></script>');
  expect(res.body).toMatch(/<input\s[^>]*type="password"/);
  const csp = res.headers['content-security-policy'];
  expect(csp).toMatch(/default-src 'self'; script-src 'self'/);
  expect(csp).toContain("form-action 'none'");
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.body).not.toMatch(/https?:\/\//);
});

test('the script bundles uPlot and the stylesheet carries its styles: nothing is loaded from elsewhere', async () => {
  const js = await app.inject({ method: 'GET', url: '/dashboard/app.js' });
  expect([js.statusCode, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
  expect(js.body).toContain('u-legend');
  expect(js.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  const css = await app.inject({ method: 'GET', url: '/dashboard/app.css' });
  expect([css.statusCode, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
  expect(css.body).toContain('.u-legend');
});

test('the runbooks are pages whose sections a finding can link to', async () => {
  for (const file of ['federation-incidents.en.html', 'federation-incidents.html']) {
    const res = await app.inject({ method: 'GET', url: `/dashboard/runbooks/${file}` });
    expect([file, res.statusCode]).toEqual([file, 200]);
    expect(res.body).toContain('<span id="negative-stock"></span>');
    expect(res.body).not.toContain('<a id=');
  }
});

test('only the bundle files are reachable', async () => {
  for (const url of [
    '/dashboard/index.html',
    '/dashboard/runbooks/federation-incidents.en.md',
    '/dashboard/..%2F..%2Fpackage.json',
    '/dashboard/runbooks/..%2Fapp.js',
    '/dashboard/%2e%2e',
  ]) {
    const res = await app.inject({ method: 'GET', url });
    expect([url, res.statusCode]).toEqual([url, 404]);
  }
});

test('without a built bundle /dashboard is a 404 that says how to build it', async () => {
  const res = await missing.inject({ method: 'GET', url: '/dashboard' });
  expect(res.statusCode).toBe(404);
  expect(res.json()).toMatchObject({
    error: { code: 'NOT_FOUND', message: expect.stringMatching(/build:dashboard/) },
  });
});

test('GET /stores lists the stores by name, for admins only', async () => {
  const a = randomUUID();
  const b = randomUUID();
  await app.inject({
    method: 'POST',
    url: '/stores',
    headers: admin,
    payload: { id: a, name: 'Zona Norte' },
  });
  const device = await storeWithDevice(app, b);
  expect((await app.inject({ method: 'GET', url: '/stores' })).statusCode).toBe(401);
  expect((await app.inject({ method: 'GET', url: '/stores', headers: device.headers })).statusCode).toBe(403);
  const res = await app.inject({ method: 'GET', url: '/stores', headers: admin });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({
    stores: [
      { id: b, name: 'Bodega' },
      { id: a, name: 'Zona Norte' },
    ],
  });
});
