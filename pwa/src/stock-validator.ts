import type { PosDatabase } from './db';
import { quotaLeft, useQuota } from './escrow';

// Seed 003 deliverable 5: check the cart against the device's own stock knowledge before a sale is
// written. The policy, exactly:
//
//   condition                        online              offline
//   stock ≥ qty                      allow               allow
//   0 < stock < qty                  warn, allow         warn, allow
//   stock = 0                        warn, allow         block
//   stock < 0                        warn, allow         block
//   product without track_inventory  allow              allow
//   storage error                    allow (fail open)   allow (fail open)
//
// "stock" is what this device may sell: the cached stock of the sale's warehouse not held in other
// devices' escrow, plus this device's own unexpired escrow quota (deliverable 12). Fail open because
// a sale that oversells is fixed by restocking, a lost sale is lost.

export interface StockValidationResult {
  /** false only when there are errors (offline and no stock). */
  valid: boolean;
  warnings: StockWarning[];
  errors: StockError[];
}

export interface StockWarning {
  product_id: string;
  product_name: string;
  requested: number;
  available: number;
  message: string;
}

export type StockError = StockWarning;

export interface StockValidatorOptions {
  /** The warehouse sales come from; the store's default warehouse has the store's id. */
  warehouseId: () => Promise<string>;
  now?: () => number;
  /** Told when storage could not be read (the validator then fails open). */
  onStorageError?: (err: unknown) => void;
}

export class StockValidator {
  private readonly now: () => number;

  constructor(
    private readonly db: PosDatabase,
    private readonly opts: StockValidatorOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** What this device may sell of one product now; null when it does not track inventory. */
  async available(productId: string): Promise<number | null> {
    const id = productId.toLowerCase();
    const product = await this.db.products.get(id);
    // An unknown product is treated as the node treats it: tracked (infra/projections/registers.ts).
    if (product && !product.track_inventory) return null;
    const warehouse = (await this.opts.warehouseId()).toLowerCase();
    const row = await this.db.warehouse_stock_cache.get([id, warehouse]);
    const shared = row ? row.quantity - row.reserved : 0;
    const escrow = await this.escrowLeft(id);
    // The quota is this device's whatever the shared stock did meanwhile (a negative shared stock,
    // oversold elsewhere, does not eat it); without one, the shared stock is reported as it is.
    return escrow > 0 ? Math.max(0, shared) + escrow : shared;
  }

  private async escrowLeft(productId: string): Promise<number> {
    return quotaLeft(await this.db.escrow_quotas.get(productId), this.now());
  }

  async validateBeforeSale(
    items: Array<{ product_id: string; qty: number; name: string }>,
    isOnline: boolean,
  ): Promise<StockValidationResult> {
    const result: StockValidationResult = { valid: true, warnings: [], errors: [] };
    // The same product on two lines is one demand on its stock.
    const demand = new Map<string, { qty: number; name: string }>();
    for (const item of items) {
      const id = item.product_id.toLowerCase();
      const seen = demand.get(id);
      demand.set(id, { qty: (seen?.qty ?? 0) + item.qty, name: seen?.name ?? item.name });
    }
    for (const [productId, { qty, name }] of demand) {
      let available: number | null;
      try {
        available = await this.available(productId);
      } catch (err) {
        this.opts.onStorageError?.(err);
        continue;
      }
      if (available === null || available >= qty) continue;
      const entry = { product_id: productId, product_name: name, requested: qty, available };
      if (available > 0) {
        result.warnings.push({ ...entry, message: `${name}: only ${available} in stock, ${qty} requested` });
      } else if (isOnline) {
        result.warnings.push({ ...entry, message: `${name}: no stock left (${available}), selling anyway` });
      } else {
        result.errors.push({
          ...entry,
          message: `${name}: no stock left (${available}); cannot sell it offline`,
        });
      }
    }
    result.valid = result.errors.length === 0;
    return result;
  }

  /**
   * After a sale: lowers what this device may sell, from its escrow quota first (the units the node
   * set aside for it), then the cached stock. Not the node's stock: the sale event does that.
   */
  async decrementLocalStock(items: Array<{ product_id: string; qty: number }>): Promise<void> {
    const db = this.db;
    const warehouse = (await this.opts.warehouseId()).toLowerCase();
    await db.transaction('rw', db.products, db.warehouse_stock_cache, db.escrow_quotas, async () => {
      for (const item of items) {
        const id = item.product_id.toLowerCase();
        const product = await db.products.get(id);
        if (product && !product.track_inventory) continue;
        let rest = item.qty;
        const quota = await db.escrow_quotas.get(id);
        if (quota) {
          const { quota: after, taken } = useQuota(quota, rest, this.now());
          if (taken > 0) await db.escrow_quotas.put(after);
          rest -= taken;
        }
        const row = await db.warehouse_stock_cache.get([id, warehouse]);
        await db.warehouse_stock_cache.put({
          product_id: id,
          warehouse_id: warehouse,
          quantity: (row?.quantity ?? 0) - rest,
          reserved: row?.reserved ?? 0,
        });
      }
    });
  }
}
