import 'fake-indexeddb/auto';
import type { NodeApi } from '../../../pwa/src/node-api';
import { randomUUID } from 'node:crypto';
import { PosDatabase } from '../../../pwa/src/db';

export const STORE = '11111111-1111-4111-8111-111111111111';
export const DEVICE = '22222222-2222-4222-8222-222222222222';

/** A fresh IndexedDB (fake-indexeddb) with a signed-in device. */
export async function deviceDb(name = `pos-${randomUUID()}`): Promise<PosDatabase> {
  const db = new PosDatabase(name);
  await db.device.put({
    key: 'self',
    store_id: STORE,
    device_id: DEVICE,
    token: 'vxd_test',
    series_id: null,
    warehouse_id: null,
    seq: 0,
    vector_clock: {},
    last_time_ms: 0,
  });
  return db;
}

export async function product(db: PosDatabase, id: string, name: string, stock: number | null, track = true) {
  await db.products.put({
    id,
    name,
    price: 2.5,
    track_inventory: track,
    active: true,
    sku: null,
    barcode: null,
  });
  if (stock !== null) {
    await db.warehouse_stock_cache.put({ product_id: id, warehouse_id: STORE, quantity: stock, reserved: 0 });
  }
}

/**
 * The node's side of the contracts the client calls (seed 000 §2 and §3), kept in memory for unit
 * tests of the client's logic; the end-to-end tests run the real routes. Ranges are consecutive and
 * never overlap; a device's active range is returned again until it is used up (the node counts
 * the numbers its pushed sales carry).
 */
export function contractNode(
  opts: { rangeSize?: number; escrow?: (productId: string, qty: number) => number } = {},
) {
  const calls: string[] = [];
  let next = 1;
  const ranges: {
    device_id: string;
    series_id: string;
    range_start: number;
    range_end: number;
    used: number;
  }[] = [];
  const pushed: OutgoingEventLike[] = [];
  const api: NodeApi = {
    async push(_store, _device, events) {
      calls.push('push');
      pushed.push(...events);
      for (const e of events) {
        const n = (e.payload as { fiscal_number?: number }).fiscal_number;
        for (const r of ranges) if (n && n >= r.range_start && n <= r.range_end) r.used = Math.max(r.used, n);
      }
      return { accepted: events.map((e) => e.event_id), duplicates: [], rejected: [], last_node_seq: null };
    },
    async pull(_store, since) {
      calls.push('pull');
      return { events: [], next_since: since, has_more: false };
    },
    async snapshot() {
      calls.push('snapshot');
      return null;
    },
    async reserveFiscalRange(req) {
      calls.push('reserve-range');
      const active = ranges.find(
        (r) => r.device_id === req.device_id && r.series_id === req.series_id && r.used < r.range_end,
      );
      const r = active ?? {
        device_id: req.device_id,
        series_id: req.series_id,
        range_start: next,
        range_end: next + (req.quantity ?? opts.rangeSize ?? 50) - 1,
        used: next - 1,
      };
      if (!active) {
        ranges.push(r);
        next = r.range_end + 1;
      }
      return {
        device_id: r.device_id,
        range_start: r.range_start,
        range_end: r.range_end,
        expires_at: '2999-01-01T00:00:00.000Z',
      };
    },
    async grantEscrow(req) {
      calls.push('escrow');
      const granted = req.items.map((i) => ({
        product_id: i.product_id,
        qty_granted: opts.escrow ? opts.escrow(i.product_id, i.qty) : i.qty,
      }));
      return {
        granted: granted.filter((g) => g.qty_granted > 0),
        denied: granted
          .filter((g) => g.qty_granted === 0)
          .map((g) => ({ product_id: g.product_id, reason: 'NO_STOCK' })),
      };
    },
  };
  return { api, calls, ranges, pushed };
}

type OutgoingEventLike = { event_id: string; payload: Record<string, unknown> };
