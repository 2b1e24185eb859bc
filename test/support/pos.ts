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

/** GET on the node's query API over HTTP, with a device (or admin) token, as a back office would. */
export async function queryApi<T>(url: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every page of a paginated store query (`next_cursor` until null). */
export async function queryAll<T>(url: string, token: string, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { items: T[]; next_cursor: string | null } = await queryApi(
      url,
      token,
      `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export interface SaleView {
  id: string;
  event_id: string;
  device_id: string;
  total: string;
  invoice_series_id: string | null;
  fiscal_number: number | null;
  voided: boolean;
  lines: { product_id: string; qty: string }[];
}

/** The store's sales of the UTC days these times fall on, through GET /stores/{id}/sales?day=. */
export async function salesOn(url: string, token: string, storeId: string, times: string[]) {
  const days = [...new Set(times.map((t) => t.slice(0, 10)))];
  const sales: SaleView[] = [];
  for (const day of days)
    sales.push(...(await queryAll<SaleView>(url, token, `/stores/${storeId}/sales?day=${day}`)));
  return sales;
}

/** The stock of one product in one warehouse, through GET /stores/{id}/stock. */
export async function stockOf(
  url: string,
  token: string,
  storeId: string,
  productId: string,
  warehouseId = storeId,
) {
  const rows = await queryAll<{ product_id: string; warehouse_id: string; quantity: string }>(
    url,
    token,
    `/stores/${storeId}/stock`,
  );
  const row = rows.find((r) => r.product_id === productId && r.warehouse_id === warehouseId);
  return row ? Number(row.quantity) : null;
}

/** Every event of the store's feed of these types, through GET /sync/pull. */
export async function feedEvents(url: string, token: string, storeId: string, types: string[]) {
  const events: { event_id: string; type: string; payload: Record<string, unknown> }[] = [];
  let since = 0;
  for (;;) {
    const page = await queryApi<{ events: typeof events; next_since: number; has_more: boolean }>(
      url,
      token,
      `/sync/pull?store_id=${storeId}&since=${since}&limit=500`,
    );
    events.push(...page.events.filter((e) => types.includes(e.type)));
    since = page.next_since;
    if (!page.has_more || page.events.length === 0) return events;
  }
}

/** All rows of one object store of the page's IndexedDB (what the till holds). */
export function idbRows<T>(page: Page, store: string): Promise<T[]> {
  return page.evaluate(async (name) => {
    const open = indexedDB.open('velox-pos');
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const all = db.transaction(name).objectStore(name).getAll();
    return new Promise<T[]>((resolve) => (all.onsuccess = () => resolve(all.result as T[])));
  }, store);
}
