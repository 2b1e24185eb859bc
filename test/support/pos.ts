import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPos } from '../../scripts/build-pos';
import { connectTemporal } from '../../infra/temporal/client';
import { admin, createTestApp, storeWithDevice, testConfig, type TestApp } from './app';
import { DeviceSim } from './events';

// What the POS end-to-end tests share: a real node listening on a port with the POS bundle built
// for it, Debian's chromium driven by playwright-core (never a downloaded browser), and a store
// with a catalogue pushed by the back office.

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(__dirname, '../../test-results/pos');

export interface PosNode {
  app: TestApp;
  url: string;
  close(): Promise<void>;
}

export async function startPosNode(overrides: Record<string, string> = {}): Promise<PosNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'velox-pos-'));
  await buildPos(dir);
  // A real node has Temporal: escrow grants start their EscrowGrant workflow (they are refused
  // without one), fiscal ranges their FiscalRange. No worker is needed for what these tests do.
  const temporal = await connectTemporal(testConfig(overrides));
  const app = await createTestApp({ POS_DIR: dir, ...overrides }, { temporal: temporal.client });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await temporal.connection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export interface CatalogueItem {
  name: string;
  price: number;
  stock: number;
  track_inventory?: boolean;
}

/** A store, one device per till, and products with stock pushed by a back-office device. */
export async function storeWithCatalogue(app: TestApp, items: CatalogueItem[], tills = 1) {
  const storeId = randomUUID();
  const devices = [];
  for (let i = 0; i < tills; i++) devices.push(await storeWithDevice(app, storeId));
  const office = new DeviceSim(storeId, randomUUID(), Date.now() - 3_600_000);
  const products = items.map((item) => ({ ...item, id: randomUUID() }));
  const events = products.flatMap((p) => [
    office.event('ProductCreated', {
      product_id: p.id,
      name: p.name,
      price: p.price,
      ...(p.track_inventory === false ? { track_inventory: false } : {}),
    }),
    ...(p.stock > 0 ? [office.event('StockReceived', { product_id: p.id, qty: p.stock })] : []),
  ]);
  const res = await app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: { store_id: storeId, device_id: office.deviceId, events },
  });
  if (res.statusCode !== 200 || res.json<{ rejected: unknown[] }>().rejected.length > 0) {
    throw new Error(`catalogue push failed: ${res.body}`);
  }
  return { storeId, devices, products };
}

/** Signs a page in as a device through the form, and waits until it synced the catalogue. */
export async function signIn(
  page: Page,
  url: string,
  c: { storeId: string; deviceId: string; token: string; seriesId?: string },
  productCount: number,
) {
  await page.goto(`${url}/pos`);
  await page.getByTestId('store-id').fill(c.storeId);
  await page.getByTestId('device-id').fill(c.deviceId);
  await page.getByTestId('token').fill(c.token);
  if (c.seriesId) await page.getByTestId('series-id').fill(c.seriesId);
  await page.getByTestId('sign-in').click();
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid^="product-"]').length === n,
    productCount,
  );
  await waitForState(page, 'online');
  // The service worker has cached the page's files (it is what makes an offline reload work).
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
}

export async function waitForState(page: Page, state: string) {
  await page.waitForFunction(
    (s) => document.querySelector('[data-testid="sync-state"]')?.textContent === s,
    state,
  );
}

export async function pending(page: Page): Promise<number> {
  return Number(await page.getByTestId('sync-pending').textContent());
}

/** Puts products in the cart (one click per unit) and presses Sell. */
export async function sell(page: Page, lines: { id: string; qty: number }[]) {
  for (const l of lines) for (let i = 0; i < l.qty; i++) await page.getByTestId(`product-${l.id}`).click();
  await page.getByTestId('sell').click();
}
