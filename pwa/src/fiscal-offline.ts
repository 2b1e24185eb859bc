import type { NodeApi } from './node-api';
import type { FiscalRange, PosDatabase } from './db';

// Seed 003 deliverable 9, the device's half: the node reserves a block of fiscal numbers for this
// device and series before it goes offline; offline, invoices take the next number of that block.
// The block lives in IndexedDB, so a reload neither loses it nor hands out a number twice. Used up
// (or expired) while offline, the device cannot invoice: the node may have given the numbers after
// the block to another till, so inventing one would make two invoices with one number.

export const DEFAULT_RANGE_SIZE = 50;

/** No fiscal number is available offline: the sale cannot be invoiced until the device reconnects. */
export class FiscalRangeExhaustedError extends Error {
  constructor(readonly seriesId: string) {
    super('Cannot invoice offline: this device has no fiscal numbers left; reconnect to reserve a new range');
    this.name = 'FiscalRangeExhaustedError';
  }
}

export interface FiscalOfflineOptions {
  db: PosDatabase;
  api: NodeApi;
  identity: () => Promise<{ store_id: string; device_id: string }>;
  rangeSize?: number;
  now?: () => number;
}

export class FiscalOfflineService {
  private readonly now: () => number;

  constructor(private readonly opts: FiscalOfflineOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The stored range of a series if it still has numbers and has not expired. */
  async getActiveRange(seriesId: string): Promise<FiscalRange | null> {
    const range = await this.opts.db.fiscal_ranges.get(seriesId.toLowerCase());
    return range && usable(range, this.now()) ? range : null;
  }

  /** Numbers left in the active range (0 when none). */
  async remaining(seriesId: string): Promise<number> {
    const range = await this.getActiveRange(seriesId);
    return range ? range.range_end - range.next_number + 1 : 0;
  }

  /**
   * Online: reserves a range when the device has none active (none yet, used up or expired).
   * Returns the active range. A range the node hands back that this device already used up is not
   * taken as new (it would repeat numbers).
   */
  async ensureRange(seriesId: string): Promise<FiscalRange> {
    const active = await this.getActiveRange(seriesId);
    if (active) return active;
    const me = await this.opts.identity();
    const series = seriesId.toLowerCase();
    const grant = await this.opts.api.reserveFiscalRange({
      store_id: me.store_id,
      series_id: series,
      device_id: me.device_id,
      quantity: this.opts.rangeSize ?? DEFAULT_RANGE_SIZE,
    });
    return this.opts.db.transaction('rw', this.opts.db.fiscal_ranges, async () => {
      const old = await this.opts.db.fiscal_ranges.get(series);
      const sameBlock = old && old.range_start === grant.range_start && old.range_end === grant.range_end;
      const range: FiscalRange = {
        series_id: series,
        range_start: grant.range_start,
        range_end: grant.range_end,
        // A block we already hold keeps its position: the node answered with our active range.
        next_number: sameBlock ? old.next_number : grant.range_start,
        expires_at: grant.expires_at,
        reserved_at: new Date(this.now()).toISOString(),
      };
      await this.opts.db.fiscal_ranges.put(range);
      if (!usable(range, this.now())) throw new FiscalRangeExhaustedError(series);
      return range;
    });
  }

  /**
   * Takes the next number of the active range. Call it inside the sale's Dexie transaction (with
   * `fiscal_ranges` in its scope) so the number is spent only if the sale is written. Throws
   * FiscalRangeExhaustedError when the range is used up or expired; online callers reserve first
   * (ensureRange).
   */
  async consumeNext(seriesId: string): Promise<number> {
    const db = this.opts.db;
    return db.transaction('rw', db.fiscal_ranges, async () => {
      const range = await this.getActiveRange(seriesId);
      if (!range) throw new FiscalRangeExhaustedError(seriesId.toLowerCase());
      await db.fiscal_ranges.update(range.series_id, { next_number: range.next_number + 1 });
      return range.next_number;
    });
  }
}

function usable(range: FiscalRange, nowMs: number): boolean {
  return range.next_number <= range.range_end && Date.parse(range.expires_at) > nowMs;
}
