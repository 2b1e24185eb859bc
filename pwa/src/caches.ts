import type { PulledEvent, StoreSnapshot } from './node-api';
import {
  saleWarehouse,
  type CachedProduct,
  type DeviceIdentity,
  type PosDatabase,
  type StockCacheRow,
} from './db';

// How the device's caches follow the node: a snapshot replaces them, each pulled event adjusts them
// the way the node's projections do (stock per product and warehouse, the store's default warehouse
// having the store's own id), and a local sale lowers them at once (optimistic local decrement).

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;
const day = (iso: string) => iso.slice(0, 10);

/**
 * Replaces products, stock and the sales history with the node's snapshot, then re-applies this
 * device's unsent sales. Call it in a transaction over products, warehouse_stock_cache, sales_stats
 * and outbox.
 */
export async function applySnapshot(db: PosDatabase, snapshot: StoreSnapshot, me: DeviceIdentity) {
  await db.products.clear();
  await db.products.bulkPut(
    snapshot.products.map((p) => ({
      id: p.id.toLowerCase(),
      name: p.name,
      price: num(p.price),
      track_inventory: p.track_inventory !== false,
      active: p.active !== false,
      sku: p.sku ?? null,
      barcode: p.barcode ?? null,
    })),
  );
  await db.warehouse_stock_cache.clear();
  await db.warehouse_stock_cache.bulkPut(
    reservedOnSaleWarehouse(
      snapshot.stock.map((s) => ({
        product_id: s.product_id.toLowerCase(),
        warehouse_id: s.warehouse_id.toLowerCase(),
        quantity: num(s.quantity),
        reserved: num(s.reserved),
      })),
      saleWarehouse(me),
    ),
  );
  // A node without the field leaves the history the device gathered itself.
  if (snapshot.sales_stats) {
    await db.sales_stats.clear();
    await db.sales_stats.bulkPut(
      snapshot.sales_stats.map((s) => ({
        product_id: s.product_id.toLowerCase(),
        day: s.day,
        qty: num(s.qty),
      })),
    );
  }
  for (const q of await db.outbox.where('status').equals('pending').toArray()) {
    if (q.type !== 'SaleCreated') continue;
    const p = q.event.payload as unknown as SalePayload;
    for (const item of p.items) {
      await adjustStock(db, item.product_id, p.warehouse_id ?? me.store_id, -item.qty);
      if (snapshot.sales_stats) await addSalesStat(db, item.product_id, q.event.created_at, item.qty);
    }
  }
}

/**
 * Escrow is per product; the node reports it on one stock row of the product (the default
 * warehouse's). The validator and the escrow bookkeeping read the row of the warehouse this till
 * sells from, so that is where the product's reserved units go, when the till has a row there.
 */
function reservedOnSaleWarehouse(rows: StockCacheRow[], warehouse: string): StockCacheRow[] {
  const own = new Set(rows.filter((r) => r.warehouse_id === warehouse).map((r) => r.product_id));
  const total = new Map<string, number>();
  for (const r of rows) total.set(r.product_id, (total.get(r.product_id) ?? 0) + r.reserved);
  return rows.map((r) => {
    if (!own.has(r.product_id)) return r;
    return { ...r, reserved: r.warehouse_id === warehouse ? total.get(r.product_id)! : 0 };
  });
}

interface SalePayload {
  items: { product_id: string; qty: number }[];
  warehouse_id?: string;
}

export async function adjustStock(db: PosDatabase, productId: string, warehouseId: string, delta: number) {
  const key: [string, string] = [productId.toLowerCase(), warehouseId.toLowerCase()];
  const row = await db.warehouse_stock_cache.get(key);
  await db.warehouse_stock_cache.put({
    product_id: key[0],
    warehouse_id: key[1],
    quantity: (row?.quantity ?? 0) + delta,
    reserved: row?.reserved ?? 0,
  });
}

export async function addSalesStat(db: PosDatabase, productId: string, at: string, qty: number) {
  const key: [string, string] = [productId.toLowerCase(), day(at)];
  const row = await db.sales_stats.get(key);
  await db.sales_stats.put({ product_id: key[0], day: key[1], qty: (row?.qty ?? 0) + qty });
}

/** One event of the store's feed, applied to the caches (own: written by this device, already applied). */
export async function applyPulledEvent(
  db: PosDatabase,
  e: PulledEvent,
  { own, defaultWarehouse }: { own: boolean; defaultWarehouse: string },
): Promise<void> {
  const p = e.payload as Record<string, unknown>;
  const warehouse = typeof p.warehouse_id === 'string' ? p.warehouse_id : defaultWarehouse;
  switch (e.type) {
    case 'ProductCreated':
    case 'ProductUpdated': {
      const id = String(p.product_id).toLowerCase();
      const old = await db.products.get(id);
      const next: CachedProduct = {
        id,
        name: typeof p.name === 'string' ? p.name : (old?.name ?? id),
        price: p.price !== undefined ? num(p.price) : (old?.price ?? 0),
        // The node's default (infra/projections/registers.ts): a product tracks inventory unless told not to.
        track_inventory:
          typeof p.track_inventory === 'boolean' ? p.track_inventory : (old?.track_inventory ?? true),
        active: typeof p.active === 'boolean' ? p.active : (old?.active ?? true),
        sku: typeof p.sku === 'string' ? p.sku : (old?.sku ?? null),
        barcode: typeof p.barcode === 'string' ? p.barcode : (old?.barcode ?? null),
      };
      await db.products.put(next);
      return;
    }
    case 'StockReceived':
      if (!own) await adjustStock(db, String(p.product_id), warehouse, num(p.qty));
      return;
    case 'StockAdjusted':
    case 'StockDeltaApplied':
      if (!own) await adjustStock(db, String(p.product_id), warehouse, num(p.qty_delta));
      return;
    case 'SaleCreated': {
      if (own) return;
      for (const item of (p as unknown as SalePayload).items ?? []) {
        await adjustStock(db, item.product_id, warehouse, -num(item.qty));
        await addSalesStat(db, item.product_id, e.created_at, num(item.qty));
      }
      return;
    }
    default:
      return;
  }
}
