import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { admin } from '../support/app';
import { DeviceSim } from '../support/events';
import { eventually } from '../support/nodes';
import {
  feedEvents,
  idbRows,
  launchChromium,
  pending,
  salesOn,
  screenshot,
  sell,
  signIn,
  startPosNode,
  stockOf,
  storeWithCatalogue,
  waitForState,
  type PosNode,
} from '../support/pos';

// The POS page in real headless Chromium against a real node: it loads at /pos, sells offline
// (refusing the product with no stock, as deliverable 5 says) with fiscal numbers from its own
// range, reloads offline from its service worker with the queue intact, and on reconnect the node
// projects exactly those sales, once — checked through the node's query API, as a back office
// would. An event the node refuses lands in the dead-letter list on screen without holding back
// the rest of the queue.

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

interface Queued {
  seq: number;
  event_id: string;
  status: string;
  type: string;
  event: {
    created_at: string;
    payload: { sale_id: string; items: { product_id: string; qty: number }[]; fiscal_number?: number };
  };
}

/** The fiscal number the till shows for its last sale, once it is not `previous` (the page sets it after the sale). */
async function soldNumber(page: Page, previous = '') {
  const handle = await page.waitForFunction((prev) => {
    const n = document.querySelector('[data-testid="last-sale"]')?.getAttribute('data-fiscal-number');
    return n && n !== prev ? n : null;
  }, previous);
  return Number(await handle.jsonValue());
}

async function waitForSold(page: Page, pendingCount: number) {
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="sync-pending"]')?.textContent === n,
    String(pendingCount),
  );
}

test('offline sales with fiscal numbers survive a reload and reach the node exactly once', async () => {
  const { storeId, devices, products } = await storeWithCatalogue(node.app, [
    { name: 'Arroz', price: 2.5, stock: 10 },
    { name: 'Café', price: 4, stock: 0 },
  ]);
  const [arroz, cafe] = products as [(typeof products)[0], (typeof products)[0]];
  const device = devices[0]!;
  const seriesId = randomUUID();
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token, seriesId }, 2);
  // The reconnect round reserved this device's range of the series (POST /fiscal/reserve-range).
  // Polled from here: page.waitForFunction does not await a promise its predicate returns.
  const [range] = await eventually(
    "the device's fiscal range in IndexedDB",
    () => idbRows<{ series_id: string; range_start: number; range_end: number }>(page, 'fiscal_ranges'),
    (rows) => rows.length === 1,
  );
  expect(range!.series_id).toBe(seriesId);
  await screenshot(page, '01-online');

  await context.setOffline(true);
  await waitForState(page, 'offline');

  // Sale 1: two of Arroz.
  await sell(page, [{ id: arroz.id, qty: 2 }]);
  await waitForSold(page, 1);
  const shown = [await soldNumber(page)];

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
  await waitForSold(page, 2);
  shown.push(await soldNumber(page, String(shown[0])));
  // Numbered in sequence from the device's range; the refused sale took none.
  expect(shown).toEqual([range!.range_start, range!.range_start + 1]);

  // A reload with no network: the service worker serves the page, IndexedDB the queue.
  await page.reload();
  await waitForState(page, 'offline');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '2',
  );
  const queued = await idbRows<Queued>(page, 'outbox');
  expect(queued.map((q) => q.status)).toEqual(['pending', 'pending']);
  expect(await page.locator(`[data-testid="product-${arroz.id}"] small`).textContent()).toMatch(/stock 7$/);
  await screenshot(page, '03-offline-reloaded');

  await context.setOffline(false);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '0',
  );
  await waitForState(page, 'online');
  await screenshot(page, '04-synced');

  // Through the query API, with the device's token: the node projected exactly those two sales,
  // once each, with their lines and the fiscal numbers the till printed.
  const token = device.token;
  const feed = await feedEvents(node.url, token, storeId, ['SaleCreated']);
  expect(feed.map((e) => e.event_id).sort()).toEqual(queued.map((q) => q.event_id).sort());
  const sales = await salesOn(
    node.url,
    token,
    storeId,
    queued.map((q) => q.event.created_at),
  );
  const byId = new Map(queued.map((q) => [q.event.payload.sale_id, q]));
  expect(sales.map((s) => s.id).sort()).toEqual([...byId.keys()].sort());
  for (const s of sales) {
    const q = byId.get(s.id)!;
    expect(s).toMatchObject({
      event_id: q.event_id,
      device_id: device.deviceId,
      invoice_series_id: seriesId,
      fiscal_number: q.event.payload.fiscal_number,
      voided: false,
    });
    expect(s.lines.map((l) => [l.product_id, Number(l.qty)])).toEqual(
      q.event.payload.items.map((i) => [i.product_id, i.qty]),
    );
  }
  expect(sales.map((s) => Number(s.total)).sort()).toEqual([2.5, 5]);
  // Every number inside the device's range, and none used twice.
  const numbers = sales.map((s) => s.fiscal_number!);
  expect(numbers.sort((x, y) => x - y)).toEqual(shown);
  expect(numbers.every((n) => n >= range!.range_start && n <= range!.range_end)).toBe(true);
  expect(new Set(numbers).size).toBe(numbers.length);
  expect(await stockOf(node.url, token, storeId, arroz.id)).toBe(7);
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
  const [queued] = await idbRows<Queued>(page, 'outbox');
  const sales = await salesOn(node.url, device.token, storeId, [queued!.event.created_at]);
  expect(sales.map((s) => s.id)).toEqual([queued!.event.payload.sale_id]);
  // Sold past zero, as the cashier chose.
  expect(await stockOf(node.url, device.token, storeId, products[0]!.id)).toBe(-1);
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

test('an event the node refuses shows in the dead-letter list; the rest of the queue syncs', async () => {
  const { storeId, devices, products } = await storeWithCatalogue(node.app, [
    { name: 'Arroz', price: 2.5, stock: 10 },
  ]);
  const [arroz] = products as [(typeof products)[0]];
  const device = devices[0]!;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token }, 1);
  await context.setOffline(true);
  await waitForState(page, 'offline');
  for (const n of [1, 2, 3]) {
    await sell(page, [{ id: arroz.id, qty: n }]);
    await waitForSold(page, n);
  }
  const queued = await idbRows<Queued>(page, 'outbox');
  const [, doomed] = queued;
  // Meanwhile another device's event took the second sale's event_id: the node holds a different
  // event under that id, so it refuses the till's (EVENT_ID_CONFLICT, a per-event rejection).
  const office = new DeviceSim(storeId);
  const res = await node.app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: {
      store_id: storeId,
      device_id: office.deviceId,
      events: [
        {
          ...office.event('CustomerCreated', { customer_id: randomUUID(), name: 'Ana' }),
          event_id: doomed!.event_id,
        },
      ],
    },
  });
  expect(res.json()).toMatchObject({ rejected: [] });

  await context.setOffline(false);
  await page.waitForFunction(() => document.querySelector('[data-testid="sync-dead"]')?.textContent === '1');
  await waitForSold(page, 0);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dead-letters"] li').length === 1);
  expect(await page.getByTestId('dead-letters').textContent()).toMatch(
    new RegExp(`^SaleCreated #${doomed!.seq}: EVENT_ID_CONFLICT — event_id: an event with this event_id`),
  );
  expect((await idbRows<{ event_id: string }>(page, 'dead_letters')).map((d) => d.event_id)).toEqual([
    doomed!.event_id,
  ]);
  await screenshot(page, '06-dead-letter');

  // The sales before and after it reached the node; the refused one did not.
  const sales = await salesOn(
    node.url,
    device.token,
    storeId,
    queued.map((q) => q.event.created_at),
  );
  expect(sales.map((s) => s.id).sort()).toEqual(
    [queued[0]!, queued[2]!].map((q) => q.event.payload.sale_id).sort(),
  );
  expect(await stockOf(node.url, device.token, storeId, arroz.id)).toBe(10 - 1 - 3);
  await context.close();
});
