import type { Browser } from 'playwright-core';
import {
  launchChromium,
  pending,
  screenshot,
  sell,
  signIn,
  startPosNode,
  storeWithCatalogue,
  waitForState,
  type PosNode,
} from '../support/pos';

// The POS page in real headless Chromium against a real node: it loads at /pos, sells offline
// (refusing the product with no stock, as deliverable 5 says), reloads offline from its service
// worker with the queue intact, and on reconnect the node projects exactly those sales, once.

let node: PosNode;
let browser: Browser;
beforeAll(async () => {
  node = await startPosNode();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await node?.close();
});

test('offline sales survive a reload and reach the node exactly once', async () => {
  const { storeId, devices, products } = await storeWithCatalogue(node.app, [
    { name: 'Arroz', price: 2.5, stock: 10 },
    { name: 'Café', price: 4, stock: 0 },
  ]);
  const [arroz, cafe] = products as [(typeof products)[0], (typeof products)[0]];
  const device = devices[0]!;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token }, 2);
  await screenshot(page, '01-online');

  await context.setOffline(true);
  await waitForState(page, 'offline');

  // Sale 1: two of Arroz.
  await sell(page, [{ id: arroz.id, qty: 2 }]);
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="last-sale"]')?.textContent?.startsWith('Sold'),
  );
  expect(await pending(page)).toBe(1);

  // Sale 2: Café has no stock; offline the validator blocks it with the red dialog.
  await sell(page, [{ id: cafe.id, qty: 1 }]);
  const dialog = page.getByTestId('error-dialog');
  await dialog.waitFor({ state: 'visible' });
  expect(await page.getByTestId('error-list').textContent()).toMatch(
    /Café: no stock left \(0\); cannot sell it offline/,
  );
  await screenshot(page, '02-offline-blocked');
  await page.getByTestId('error-ok').click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#clear').click();
  expect(await pending(page)).toBe(1);

  // Sale 3: one more Arroz.
  await sell(page, [{ id: arroz.id, qty: 1 }]);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '2',
  );

  // A reload with no network: the service worker serves the page, IndexedDB the queue.
  await page.reload();
  await waitForState(page, 'offline');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '2',
  );
  const queued = await page.evaluate(async () => {
    const open = indexedDB.open('velox-pos');
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const all = db.transaction('outbox').objectStore('outbox').getAll();
    return new Promise<{ event_id: string; status: string; items: unknown }[]>((resolve) => {
      all.onsuccess = () =>
        resolve(
          (all.result as { event_id: string; status: string; event: { payload: { items: unknown } } }[]).map(
            (q) => ({
              event_id: q.event_id,
              status: q.status,
              items: q.event.payload.items,
            }),
          ),
        );
    });
  });
  expect(queued.map((q) => q.status)).toEqual(['pending', 'pending']);
  expect(await page.locator(`[data-testid="product-${arroz.id}"] small`).textContent()).toMatch(/stock 7$/);
  await screenshot(page, '03-offline-reloaded');

  await context.setOffline(false);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '0',
  );
  await waitForState(page, 'online');
  await screenshot(page, '04-synced');

  // The node projected exactly those two sales, once each, with their lines.
  const db = node.app.t.db;
  const events = await db
    .selectFrom('events')
    .select(['event_id'])
    .where('store_id', '=', storeId)
    .where('type', '=', 'SaleCreated')
    .execute();
  expect(events.map((e) => e.event_id).sort()).toEqual(queued.map((q) => q.event_id).sort());
  const sales = await db
    .selectFrom('sales')
    .select(['id', 'event_id', 'device_id', 'total'])
    .where('store_id', '=', storeId)
    .execute();
  expect(sales).toHaveLength(2);
  expect(sales.every((s) => s.device_id === device.deviceId)).toBe(true);
  expect(sales.map((s) => Number(s.total)).sort()).toEqual([2.5, 5]);
  const lines = await db
    .selectFrom('sale_items')
    .select(['product_id', 'qty'])
    .where('store_id', '=', storeId)
    .execute();
  expect(lines.map((l) => [l.product_id, Number(l.qty)]).sort()).toEqual([
    [arroz.id, 1],
    [arroz.id, 2],
  ]);
  const stock = await db
    .selectFrom('warehouse_stock')
    .select(['product_id', 'stock'])
    .where('store_id', '=', storeId)
    .where('product_id', '=', arroz.id)
    .executeTakeFirstOrThrow();
  expect(Number(stock.stock)).toBe(7);
  await context.close();
});

test('online, a product with no stock is a yellow notice the cashier may go past', async () => {
  const { storeId, devices, products } = await storeWithCatalogue(node.app, [
    { name: 'Café', price: 4, stock: 0 },
  ]);
  const device = devices[0]!;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token }, 1);
  await expect(page.getByTestId('store-id').isVisible()).resolves.toBe(false);
  await sell(page, [{ id: products[0]!.id, qty: 1 }]);
  const notice = page.getByTestId('notice');
  await notice.waitFor({ state: 'visible' });
  expect(await notice.textContent()).toMatch(/Café: no stock left \(0\), selling anyway/);
  expect(await page.getByTestId('error-dialog').isVisible()).toBe(false);
  await screenshot(page, '05-online-warning');
  await page.getByTestId('notice-continue').click();
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="last-sale"]')?.textContent?.startsWith('Sold'),
  );
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '0',
  );
  const sales = await node.app.t.db
    .selectFrom('sales')
    .select('id')
    .where('store_id', '=', storeId)
    .execute();
  expect(sales).toHaveLength(1);
  await context.close();
});

test('a token the node does not know is refused at sign-in and not stored', async () => {
  const { storeId, devices } = await storeWithCatalogue(node.app, [{ name: 'Pan', price: 1, stock: 1 }]);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${node.url}/pos`);
  await page.getByTestId('store-id').fill(storeId);
  await page.getByTestId('device-id').fill(devices[0]!.deviceId);
  await page.getByTestId('token').fill('vxd_not-a-real-token-0000000000000000000000');
  await page.getByTestId('sign-in').click();
  await page.waitForFunction(() => document.getElementById('signin-error')?.textContent !== '');
  expect(await page.locator('#signin-error').textContent()).toBe('The node does not know this token');
  expect(await page.locator('#pos').isVisible()).toBe(false);
  await page.reload();
  expect(await page.getByTestId('store-id').isVisible()).toBe(true);
  await context.close();
});
