import type { NodeApi } from './node-api';
import type { CachedProduct, PosDatabase, SalesStat } from './db';

// Seed 003 deliverable 12: on reconnect the device asks the node to set aside stock of its best
// sellers, so what it sells offline is already its own. For the top 50 products by units sold
// (products that track inventory), qty = ceil(avg_daily_sales × 0.5), at least 2 and at most 20.

export const ESCROW_TOP_PRODUCTS = 50;
export const ESCROW_MIN_QTY = 2;
export const ESCROW_MAX_QTY = 20;
/** The days avg_daily_sales averages over. */
export const SALES_WINDOW_DAYS = 7;
/** Quotas live 4 h on the node (deliverable 12); a grant without expires_at gets this. */
export const ESCROW_TTL_MS = 4 * 3_600_000;

export function escrowQty(avgDailySales: number): number {
  return Math.min(ESCROW_MAX_QTY, Math.max(ESCROW_MIN_QTY, Math.ceil(avgDailySales * 0.5)));
}

/**
 * The batch-grant request: tracked, active products ranked by units sold over the last
 * SALES_WINDOW_DAYS days (ties, and products not sold yet, by name, so a new shop still covers its
 * catalogue up to 50), each with escrowQty of its average.
 */
export function planEscrow(
  products: CachedProduct[],
  stats: SalesStat[],
  nowMs: number,
): { product_id: string; qty: number }[] {
  const from = new Date(nowMs - (SALES_WINDOW_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  const sold = new Map<string, number>();
  for (const s of stats) if (s.day >= from) sold.set(s.product_id, (sold.get(s.product_id) ?? 0) + s.qty);
  return products
    .filter((p) => p.track_inventory && p.active)
    .map((p) => ({ p, units: sold.get(p.id) ?? 0 }))
    .sort((a, b) => b.units - a.units || a.p.name.localeCompare(b.p.name) || a.p.id.localeCompare(b.p.id))
    .slice(0, ESCROW_TOP_PRODUCTS)
    .map(({ p, units }) => ({ product_id: p.id, qty: escrowQty(units / SALES_WINDOW_DAYS) }));
}

/** Plans, asks the node, and stores what it granted in `escrow_quotas` (a new grant replaces the old). */
export async function takeEscrow(
  db: PosDatabase,
  api: NodeApi,
  me: { store_id: string; device_id: string },
  nowMs: number,
): Promise<{ granted: number; denied: number }> {
  const items = planEscrow(await db.products.toArray(), await db.sales_stats.toArray(), nowMs);
  if (items.length === 0) return { granted: 0, denied: 0 };
  const result = await api.grantEscrow({ store_id: me.store_id, device_id: me.device_id, items });
  const at = new Date(nowMs).toISOString();
  await db.transaction('rw', db.escrow_quotas, db.warehouse_stock_cache, async () => {
    for (const g of result.granted) {
      const id = g.product_id.toLowerCase();
      const old = await db.escrow_quotas.get(id);
      const heldBefore =
        old && Date.parse(old.expires_at) > nowMs ? Math.max(0, old.qty_granted - old.qty_used) : 0;
      await db.escrow_quotas.put({
        product_id: id,
        qty_granted: g.qty_granted,
        qty_used: 0,
        expires_at: g.expires_at ?? new Date(nowMs + ESCROW_TTL_MS).toISOString(),
        granted_at: at,
      });
      // The node now holds this much more out of the shared stock (its next snapshot says the same):
      // without this, a device that goes offline before that snapshot counts its quota twice.
      const row = await db.warehouse_stock_cache.get([id, me.store_id.toLowerCase()]);
      if (row)
        await db.warehouse_stock_cache.put({
          ...row,
          reserved: Math.max(0, row.reserved + g.qty_granted - heldBefore),
        });
    }
  });
  return { granted: result.granted.length, denied: result.denied.length };
}
