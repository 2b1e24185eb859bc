import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { admin } from '../support/app';
import { DeviceSim } from '../support/events';
import { eventually } from '../support/nodes';
import {
  idbRows,
  launchChromium,
  pending,
  screenshot,
  sell,
  salesOn,
  signIn,
  startPosNode,
  stockOf,
  storeWithCatalogue,
  waitForState,
  type PosNode,
} from '../support/pos';

// The parts of the offline POS that need the node's fiscal ranges (POST /fiscal/reserve-range,
// seed 000 §2) and escrow (POST /inventory/escrow/batch-grant, seed 000 §3) and the store snapshot
// (GET /stores/{id}/snapshot), in real headless Chromium: offline invoices carry numbers from the
// device's own range, and two tills sell the last units of a product offline under escrow without
// overselling it.

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

/** Waits until the page's IndexedDB store holds what `ok` wants (the till writes it in the background). */
async function untilStored<T>(page: Page, store: string, ok: (rows: T[]) => boolean, timeoutMs = 20_000) {
  return eventually(`${store} to hold what the test waits for`, () => idbRows<T>(page, store), ok, timeoutMs);
}

const lastFiscalNumber = (page: Page) => page.getByTestId('last-sale').getAttribute('data-fiscal-number');

test('offline sales carry fiscal numbers from the range the device reserved online, through a reload', async () => {
  const seriesId = randomUUID();
  const { storeId, devices, products } = await storeWithCatalogue(node.app, [
    { name: 'Arroz', price: 2.5, stock: 20 },
  ]);
  const device = devices[0]!;
  const arroz = products[0]!;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token, seriesId }, 1);
  // The reconnect round reserved a range for this device and series.
  await untilStored(page, 'fiscal_ranges', (rows) => rows.length === 1);
  const [range] = await idbRows<{
    series_id: string;
    range_start: number;
    range_end: number;
    next_number: number;
  }>(page, 'fiscal_ranges');
  expect(range).toMatchObject({ series_id: seriesId, next_number: range!.range_start });
  expect(range!.range_end).toBeGreaterThan(range!.range_start);

  await context.setOffline(true);
  await waitForState(page, 'offline');
  await sell(page, [{ id: arroz.id, qty: 1 }]);
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="last-sale"]')?.getAttribute('data-fiscal-number') === n,
    String(range!.range_start),
  );
  // The range's position survives a reload offline: the next invoice takes the next number.
  await page.reload();
  await waitForState(page, 'offline');
  await sell(page, [{ id: arroz.id, qty: 2 }]);
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="last-sale"]')?.getAttribute('data-fiscal-number') === n,
    String(range!.range_start + 1),
  );
  expect(await lastFiscalNumber(page)).toBe(String(range!.range_start + 1));
  expect(await pending(page)).toBe(2);
  await screenshot(page, '10-offline-invoices');

  await context.setOffline(false);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '0',
  );
  // Through the query API, with the device's token.
  const queued = await idbRows<{ event: { created_at: string } }>(page, 'outbox');
  const sales = await salesOn(
    node.url,
    device.token,
    storeId,
    queued.map((q) => q.event.created_at),
  );
  expect(
    sales
      .map((s) => [s.invoice_series_id, s.fiscal_number, s.device_id])
      .sort((a, b) => Number(a[1]) - Number(b[1])),
  ).toEqual([
    [seriesId, range!.range_start, device.deviceId],
    [seriesId, range!.range_start + 1, device.deviceId],
  ]);
  await context.close();
});

test('two tills sell the last units of a product offline, each from its escrow, and never oversell it', async () => {
  const STOCK = 10;
  const { storeId, devices, products } = await storeWithCatalogue(
    node.app,
    [{ name: 'Leche', price: 1.5, stock: STOCK }],
    2,
  );
  const leche = products[0]!;
  const tills = await Promise.all(
    devices.map(async (device) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, node.url, { storeId, deviceId: device.deviceId, token: device.token }, 1);
      return { device, context, page };
    }),
  );
  // Each till took escrow for the product on connecting (deliverable 12: at least 2 units asked).
  const quotas = [];
  for (const t of tills) {
    await untilStored(t.page, 'escrow_quotas', (rows: { product_id: string }[]) =>
      rows.some((r) => r.product_id === leche.id),
    );
    const [q] = await idbRows<{ product_id: string; qty_granted: number }>(t.page, 'escrow_quotas');
    expect(q!.qty_granted).toBeGreaterThan(0);
    quotas.push(q!.qty_granted);
  }
  const escrowed = quotas[0]! + quotas[1]!;
  expect(escrowed).toBeLessThanOrEqual(STOCK);

  // The back office sells everything not held in escrow: what is left are the tills' quotas.
  const office = new DeviceSim(storeId);
  const res = await node.app.inject({
    method: 'POST',
    url: '/sync/push',
    headers: admin,
    payload: {
      store_id: storeId,
      device_id: office.deviceId,
      events: [office.event('StockAdjusted', { product_id: leche.id, qty_delta: -(STOCK - escrowed) })],
    },
  });
  expect(res.json()).toMatchObject({ rejected: [] });
  // Each till reconnects (a reload online) and so refreshes its view of the shared stock: none left.
  for (const t of tills) {
    await t.page.reload();
    await waitForState(t.page, 'online');
    await t.page.waitForFunction(
      ([id, q]) =>
        document.querySelector(`[data-testid="product-${id}"] small`)?.textContent?.endsWith(`stock ${q}`),
      [leche.id, String(quotas[tills.indexOf(t)])] as const,
    );
  }

  // Offline, each till sells one unit at a time until its validator refuses.
  const sold: number[] = [];
  for (const [i, t] of tills.entries()) {
    await t.context.setOffline(true);
    await waitForState(t.page, 'offline');
    let n = 0;
    for (;;) {
      await sell(t.page, [{ id: leche.id, qty: 1 }]);
      const outcome = await Promise.race([
        t.page
          .getByTestId('error-dialog')
          .waitFor({ state: 'visible' })
          .then(() => 'blocked' as const),
        t.page
          .waitForFunction(
            (k) => document.querySelector('[data-testid="sync-pending"]')?.textContent === k,
            String(n + 1),
          )
          .then(() => 'sold' as const),
      ]);
      if (outcome === 'blocked') break;
      n += 1;
      expect(n).toBeLessThanOrEqual(STOCK);
    }
    await screenshot(t.page, `11-till-${i + 1}-escrow-used-up`);
    await t.page.getByTestId('error-ok').click();
    await t.page.locator('#clear').click();
    sold.push(n);
  }
  // Each sold exactly its own quota: the last units, shared between them by escrow.
  expect(sold).toEqual(quotas);

  for (const t of tills) {
    await t.context.setOffline(false);
    await t.page.waitForFunction(
      () => document.querySelector('[data-testid="sync-pending"]')?.textContent === '0',
    );
  }
  // Through the query API: one line of one unit per sale the tills made, and not one unit oversold.
  const times = (
    await Promise.all(tills.map((t) => idbRows<{ event: { created_at: string } }>(t.page, 'outbox')))
  ).flatMap((rows) => rows.map((q) => q.event.created_at));
  const token = tills[0]!.device.token;
  const sales = await salesOn(node.url, token, storeId, times);
  const lines = sales.flatMap((s) => s.lines.map((l) => ({ sale_id: s.id, qty: Number(l.qty) })));
  expect(lines).toHaveLength(escrowed);
  expect(lines.every((l) => l.qty === 1)).toBe(true);
  expect(new Set(lines.map((l) => l.sale_id)).size).toBe(escrowed);
  expect(await stockOf(node.url, token, storeId, leche.id)).toBe(0);
  for (const t of tills) await t.context.close();
});
