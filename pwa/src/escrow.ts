import type { NodeApi } from './node-api';
import {
  saleWarehouse,
  type CachedProduct,
  type DeviceIdentity,
  type EscrowGrantPart,
  type EscrowQuota,
  type PosDatabase,
  type SalesStat,
} from './db';

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

/** The quota's grants, soonest expiry first (a row without `grants` is one grant). */
function grantsOf(q: EscrowQuota): EscrowGrantPart[] {
  const parts = q.grants ?? [
    {
      grant_id: null,
      qty_granted: q.qty_granted,
      remaining: Math.max(0, q.qty_granted - q.qty_used),
      expires_at: q.expires_at,
    },
  ];
  return [...parts].sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
}

const live = (g: EscrowGrantPart, nowMs: number) => Date.parse(g.expires_at) > nowMs && g.remaining > 0;

/** A quota row holding these grants, its totals summed from them. */
function quotaOf(productId: string, grantedAt: string, grants: EscrowGrantPart[]): EscrowQuota {
  return {
    product_id: productId,
    qty_granted: grants.reduce((s, g) => s + g.qty_granted, 0),
    qty_used: grants.reduce((s, g) => s + g.qty_granted - g.remaining, 0),
    expires_at: grants.reduce((m, g) => (g.expires_at > m ? g.expires_at : m), ''),
    granted_at: grantedAt,
    grants,
  };
}

/** What this device holds of the product now: the sum of its unexpired grants' remainders. */
export function quotaLeft(q: EscrowQuota | undefined, nowMs: number): number {
  if (!q) return 0;
  return grantsOf(q).reduce((s, g) => s + (live(g, nowMs) ? g.remaining : 0), 0);
}

/**
 * Sells up to `qty` units from the quota, soonest expiry first (the order in which the node consumes
 * a sale's device's quotas, infra/projections/sale-intake.ts): the quota after, and the units taken.
 */
export function useQuota(q: EscrowQuota, qty: number, nowMs: number): { quota: EscrowQuota; taken: number } {
  let rest = qty;
  const grants = grantsOf(q).map((g) => {
    if (rest <= 0 || !live(g, nowMs)) return g;
    const take = Math.min(rest, g.remaining);
    rest -= take;
    return { ...g, remaining: g.remaining - take };
  });
  return { quota: quotaOf(q.product_id, q.granted_at, grants), taken: qty - rest };
}

/**
 * Plans, asks the node, and adds what it granted to `escrow_quotas`. Grants add up on the node (one
 * quota per grant, each expiring on its own), so a new grant joins the device's unexpired ones
 * rather than replacing them: the local quota is what the node holds for this device.
 */
export async function takeEscrow(
  db: PosDatabase,
  api: NodeApi,
  me: Pick<DeviceIdentity, 'store_id' | 'device_id'> & { warehouse_id?: string | null },
  nowMs: number,
): Promise<{ granted: number; denied: number }> {
  const items = planEscrow(await db.products.toArray(), await db.sales_stats.toArray(), nowMs);
  if (items.length === 0) return { granted: 0, denied: 0 };
  const result = await api.grantEscrow({ store_id: me.store_id, device_id: me.device_id, items });
  const at = new Date(nowMs).toISOString();
  // The warehouse the validator reads the shared stock of (pwa/src/pos-client.ts).
  const warehouse = saleWarehouse(me);
  await db.transaction('rw', db.escrow_quotas, db.warehouse_stock_cache, async () => {
    for (const g of result.granted) {
      const id = g.product_id.toLowerCase();
      const old = await db.escrow_quotas.get(id);
      const kept = old ? grantsOf(old).filter((x) => live(x, nowMs)) : [];
      const part: EscrowGrantPart = {
        grant_id: g.grant_id ?? null,
        qty_granted: g.qty_granted,
        remaining: g.qty_granted,
        expires_at: g.expires_at ?? new Date(nowMs + ESCROW_TTL_MS).toISOString(),
      };
      const grants = [...kept, part].sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
      await db.escrow_quotas.put(quotaOf(id, at, grants));
      // The node now holds this much more out of the shared stock (its next snapshot says the same):
      // without this, a device that goes offline before that snapshot counts its quota twice.
      const row = await db.warehouse_stock_cache.get([id, warehouse]);
      if (row) await db.warehouse_stock_cache.put({ ...row, reserved: row.reserved + g.qty_granted });
    }
  });
  return { granted: result.granted.length, denied: result.denied.length };
}
