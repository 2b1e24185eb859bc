import { addSalesStat } from './caches';
import type { CachedProduct, PosDatabase } from './db';
import { FiscalRangeExhaustedError, type FiscalOfflineService } from './fiscal-offline';
import type { StockValidationResult, StockValidator } from './stock-validator';
import type { SyncClient } from './sync-client';

export interface CartLine {
  product_id: string;
  qty: number;
  /** What the till showed: used when the product cache cannot be read (the sale fails open). */
  name?: string;
  unit_price?: number;
}

export interface SaleOptions {
  /** The till shows warnings and the cashier chose to go on (deliverable 5's "continue"). */
  acceptWarnings?: boolean;
  payment_method?: string;
  customer_id?: string | null;
}

export type SaleResult =
  | {
      status: 'sold';
      sale_id: string;
      event_id: string;
      fiscal_number: number | null;
      total: number;
      warnings: StockValidationResult['warnings'];
    }
  | { status: 'needs-confirmation'; warnings: StockValidationResult['warnings'] }
  | { status: 'blocked'; errors: { message: string }[] };

export interface SaleServiceOptions {
  db: PosDatabase;
  sync: SyncClient;
  validator: StockValidator;
  fiscal: FiscalOfflineService;
  seriesId: () => Promise<string | null>;
  warehouseId: () => Promise<string>;
  uuid?: () => string;
  /** Told when the product cache could not be read (the sale then goes on, as the validator's does). */
  onStorageError?: (err: unknown) => void;
}

/**
 * The checkout: validate the cart (deliverable 5), take a fiscal number (deliverable 9), and write
 * the SaleCreated event, the local stock decrement and the number in one IndexedDB transaction, so
 * a crash leaves either the whole sale or none of it.
 */
export class SaleService {
  private readonly uuid: () => string;

  constructor(private readonly opts: SaleServiceOptions) {
    this.uuid = opts.uuid ?? (() => globalThis.crypto.randomUUID());
  }

  async sell(cart: CartLine[], options: SaleOptions = {}): Promise<SaleResult> {
    const { db, sync, validator, fiscal } = this.opts;
    const lines = cart
      .filter((l) => l.qty > 0)
      .map((l) => ({ ...l, product_id: l.product_id.toLowerCase() }));
    if (lines.length === 0) return { status: 'blocked', errors: [{ message: 'The cart is empty' }] };
    let products: (CachedProduct | undefined)[] = [];
    try {
      products = await db.products.bulkGet(lines.map((l) => l.product_id));
    } catch (err) {
      // Deliverable 5: a storage error never blocks a sale. The validator fails open on its own
      // reads; names and prices come from the cart the till showed.
      this.opts.onStorageError?.(err);
    }
    const named = lines.map((l, i) => ({ ...l, name: products[i]?.name ?? l.name ?? l.product_id }));
    const online = sync.isOnline();
    const check = await validator.validateBeforeSale(named, online);
    if (!check.valid) return { status: 'blocked', errors: check.errors };
    if (check.warnings.length > 0 && !options.acceptWarnings) {
      return { status: 'needs-confirmation', warnings: check.warnings };
    }

    const series = await this.opts.seriesId();
    if (series && online && (await fiscal.remaining(series)) === 0) {
      try {
        await fiscal.ensureRange(series);
      } catch {
        // The node could not be reached after all: consumeNext below says whether the sale can be invoiced.
      }
    }
    const warehouse = (await this.opts.warehouseId()).toLowerCase();
    const items = lines.map((l, i) => ({
      product_id: l.product_id,
      qty: l.qty,
      unit_price: products[i]?.price ?? l.unit_price ?? 0,
    }));
    const total = Math.round(items.reduce((s, i) => s + i.qty * i.unit_price, 0) * 100) / 100;
    const saleId = this.uuid();
    try {
      const tables = [
        db.device,
        db.outbox,
        db.fiscal_ranges,
        db.products,
        db.warehouse_stock_cache,
        db.escrow_quotas,
        db.sales_stats,
      ];
      const { event, fiscalNumber } = await db.transaction('rw', tables, async () => {
        const fiscalNumber = series ? await fiscal.consumeNext(series) : null;
        const event = await sync.append('SaleCreated', {
          sale_id: saleId,
          items,
          total,
          warehouse_id: warehouse,
          payment_method: options.payment_method ?? 'cash',
          customer_id: options.customer_id ?? null,
          ...(series ? { invoice_series_id: series, fiscal_number: fiscalNumber } : {}),
        });
        await validator.decrementLocalStock(lines);
        for (const l of lines) await addSalesStat(db, l.product_id, event.created_at, l.qty);
        return { event, fiscalNumber };
      });
      sync.kick();
      await sync.refreshCounts();
      return {
        status: 'sold',
        sale_id: saleId,
        event_id: event.event_id,
        fiscal_number: fiscalNumber,
        total,
        warnings: check.warnings,
      };
    } catch (err) {
      if (err instanceof FiscalRangeExhaustedError)
        return { status: 'blocked', errors: [{ message: err.message }] };
      throw err;
    }
  }
}
