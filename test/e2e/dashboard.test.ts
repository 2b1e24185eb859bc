import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page, Request } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard';
import { raiseAlert } from '../../infra/repositories/alerts';
import { saveSnapshot } from '../../infra/repositories/health-snapshots';
import { ADMIN_SECRET, admin, createTestApp, type TestApp } from '../support/app';
import { DeviceSim } from '../support/events';
import { launchChromium } from '../support/pos';

// The operators' dashboard in real headless Chromium against a real node: a store whose stock went
// below zero on six products (critical), with snapshots and an alert. The operator signs in with the
// admin secret, sees the store's health, its findings with their runbook links, the 24 h chart, the
// relay to an unreachable peer, and acknowledges the alert; the secret never appears in a URL.

const SCREENSHOTS = path.resolve(__dirname, '../../test-results/dashboard');
const OVERSOLD = 6;

let app: TestApp;
let url: string;
let dir: string;
let browser: Browser;
const storeId = randomUUID();
const products = Array.from({ length: OVERSOLD }, () => randomUUID());
let alertId: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'velox-dashboard-'));
  await buildDashboard(dir);
  app = await createTestApp({
    DASHBOARD_DIR: dir,
    // Nothing listens on port 9: the peer is unreachable, so the relay table has a row to show.
    PEERS: JSON.stringify([{ id: 'cloud', url: 'http://127.0.0.1:9', token: `peer-${randomUUID()}` }]),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  browser = await launchChromium();

  await app.inject({
    method: 'POST',
    url: '/stores',
    headers: admin,
    payload: { id: storeId, name: 'Bodega Centro' },
  });
  const till = new DeviceSim(storeId, randomUUID(), Date.now() - 3_600_000);
  const events = products.flatMap((product_id, i) => [
    till.event('ProductCreated', { product_id, name: `Producto ${i}`, price: 2 }),
    till.event('StockReceived', { product_id, qty: 1 }),
    till.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id, qty: 3, unit_price: 2 }],
      total: 6,
    }),
  ]);
  const push = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: { store_id: storeId, device_id: till.deviceId, events },
  });
  expect([push.statusCode, push.json<{ rejected: unknown[] }>().rejected]).toEqual([200, []]);

  const now = Date.now();
  const report = (
    await app.inject({ url: `/sync/federation/health?store_id=${storeId}`, headers: admin })
  ).json<{ overallHealth: string; metrics: Record<string, unknown> }>();
  expect(report.overallHealth).toBe('critical');
  const calm = { ...report.metrics, negativeStockCount: 0, remoteReachable: true };
  for (const [ago, overall, metrics] of [
    [4 * 3600_000, 'healthy', calm],
    [3 * 3600_000, 'degraded', { ...calm, negativeStockCount: 2 }],
    [2 * 3600_000, 'critical', report.metrics],
    [5 * 60_000, 'critical', report.metrics],
  ] as const) {
    await saveSnapshot(app.t.db, {
      store_id: storeId,
      taken_at: new Date(now - ago),
      overall,
      report: { ...report, overallHealth: overall, metrics },
    });
  }
  alertId = (
    await raiseAlert(app.t.db, {
      type: 'OVERSELLING_DETECTED',
      severity: 'P2',
      store_id: storeId,
      subject: `${OVERSOLD} products of Bodega Centro are below zero`,
    })
  ).id;
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page: Page, secret: string) {
  await page.getByTestId('secret').fill(secret);
  await page.getByTestId('sign-in').click();
}

test('an operator signs in, sees the store critical with its findings, chart, relay and alert, and acknowledges it', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await page.goto(`${url}/dashboard`);

  // A secret the node refuses: a clear error, no dashboard, nothing kept.
  await signIn(page, 'not-the-admin-secret-000000');
  await page.waitForFunction(() => document.getElementById('signin-error')?.textContent !== '');
  expect(await page.getByTestId('signin-error').textContent()).toBe('The node refused this admin secret');
  expect(await page.locator('#dashboard').isVisible()).toBe(false);
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

  await signIn(page, ADMIN_SECRET);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="overall"]')?.textContent === 'critical',
  );
  expect(await page.getByTestId('store').inputValue()).toBe(storeId);

  // The findings, in business terms, each with its runbook section.
  const findings = page.getByTestId('finding');
  const negative = findings.filter({ hasText: `product ${products[0]} is at -2 in warehouse` });
  await negative.waitFor();
  expect(await negative.locator('a').first().getAttribute('href')).toBe(
    '/dashboard/runbooks/federation-incidents.en.html#negative-stock',
  );
  expect(await findings.filter({ hasText: 'node cloud does not answer' }).count()).toBe(1);
  expect(await page.getByTestId('metric-negativeStockCount').textContent()).toBe(String(OVERSOLD));
  expect(await page.getByTestId('level-negativeStock').textContent()).toBe('critical');

  // The chart: a canvas uPlot drew on (some pixel is not blank).
  const painted = await page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="chart"] canvas');
    if (!canvas || canvas.width === 0) return 0;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return n;
  });
  expect(painted).toBeGreaterThan(100);
  expect(await page.getByTestId('chart-empty').isVisible()).toBe(false);

  // The relay to the unreachable peer.
  const relays = page.getByTestId('relays');
  expect(await relays.locator('tbody tr').count()).toBe(1);
  expect(await relays.locator('tbody tr td').first().textContent()).toBe('cloud');
  expect(await relays.textContent()).toMatch(/unreachable/);

  await screenshot(page, '01-critical-store');

  // Acknowledge: the list updates, and the node has it acknowledged.
  await page.getByTestId(`ack-${alertId}`).click();
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="alert-status-${id}"]`)?.textContent === 'acknowledged',
    alertId,
  );
  expect(await page.getByTestId(`ack-${alertId}`).count()).toBe(0);
  const listed = (await app.inject({ url: `/alerts?store_id=${storeId}`, headers: admin })).json<{
    alerts: { id: string; status: string }[];
  }>();
  expect(listed.alerts.find((a) => a.id === alertId)?.status).toBe('acknowledged');
  await screenshot(page, '02-alert-acknowledged');

  // The runbook link opens its section on a page the node serves.
  const runbook = await context.newPage();
  const answer = await runbook.goto(`${url}/dashboard/runbooks/federation-incidents.en.html#negative-stock`);
  expect(answer?.status()).toBe(200);
  expect(await runbook.locator('#negative-stock').count()).toBe(1);
  await runbook.close();

  // The secret travelled only as a bearer header: never in a URL, and every API call carried it.
  expect(requests.length).toBeGreaterThan(5);
  for (const secret of [ADMIN_SECRET, 'not-the-admin-secret-000000']) {
    const leaked = requests
      .map((r) => r.url())
      .filter((u) => u.includes(secret) || u.includes(encodeURIComponent(secret)));
    expect(leaked).toEqual([]);
  }
  const apiCalls = requests.filter((r) => !new URL(r.url()).pathname.startsWith('/dashboard'));
  expect(apiCalls.map((r) => new URL(r.url()).pathname)).toEqual(
    expect.arrayContaining([
      '/stores',
      '/sync/federation/health',
      '/sync/federation/health/history',
      '/sync/federation/status',
      '/alerts',
      `/alerts/${alertId}/acknowledge`,
    ]),
  );
  for (const r of apiCalls) expect(r.headers().authorization).toMatch(/^Bearer /);

  // Kept for the tab (a reload stays signed in) and forgotten on sign-out.
  await page.reload();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="overall"]')?.textContent === 'critical',
  );
  await page.getByTestId('sign-out').click();
  expect(await page.getByTestId('secret').isVisible()).toBe(true);
  expect(await page.evaluate(() => Object.keys(sessionStorage))).not.toContain('velox-dashboard-secret');
  await context.close();
});

test('the page refreshes itself every 30 s: an alert raised meanwhile appears without a click', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The page's clock is the test's: 30 s pass when the test says so, not on the wall.
  await page.clock.install();
  await page.goto(`${url}/dashboard`);
  await signIn(page, ADMIN_SECRET);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="overall"]')?.textContent === 'critical',
  );
  const later = await raiseAlert(app.t.db, {
    type: 'FEDERATION_OFFLINE',
    severity: 'P1',
    store_id: storeId,
    subject: 'node cloud has not answered for 5 minutes',
  });
  await page.clock.fastForward(29_000);
  expect(await page.getByTestId(`ack-${later.id}`).count()).toBe(0);
  await page.clock.fastForward(1_000);
  await page.getByTestId(`ack-${later.id}`).waitFor();
  expect(await page.getByTestId('alerts').textContent()).toContain(
    'node cloud has not answered for 5 minutes',
  );
  await context.close();
});
