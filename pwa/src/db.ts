import Dexie, { type EntityTable } from 'dexie';
import type { EventType } from '../../domain/events/schemas';

// The device's IndexedDB (Dexie). Everything the POS needs to sell offline lives here, so a reload
// or a closed tab loses nothing: the event queue, the caches the stock validator reads, the escrow
// quotas and fiscal ranges the node granted, the pull cursor and the device's own clocks.

/** One event the device wrote, in the order it wrote them (`seq`). */
export interface QueuedEvent {
  seq: number;
  event_id: string;
  type: EventType;
  /** The event exactly as pushed (the same body on every resend, so a resend is a duplicate). */
  event: OutgoingEvent;
  /** pending: not yet acknowledged by the node; synced: accepted or acknowledged as a duplicate. */
  status: 'pending' | 'synced';
  attempts: number;
  synced_at: string | null;
}

/** The wire envelope the node accepts on POST /sync/push (domain/events/schemas.ts). */
export interface OutgoingEvent {
  event_id: string;
  store_id: string;
  device_id: string;
  seq: number;
  type: EventType;
  vector_clock: Record<string, number>;
  created_at: string;
  payload: Record<string, unknown>;
}

/** An event the node refused (per-event `rejected`): kept for the operator, never pushed again. */
export interface DeadLetter {
  event_id: string;
  seq: number;
  event: OutgoingEvent;
  code: string;
  message: string;
  details: { path: string; message: string }[] | null;
  rejected_at: string;
}

export interface CachedProduct {
  id: string;
  name: string;
  price: number;
  track_inventory: boolean;
  active: boolean;
  sku: string | null;
  barcode: string | null;
}

export interface StockCacheRow {
  product_id: string;
  warehouse_id: string;
  /** What the node last said plus what this device sold since (optimistic local decrement). */
  quantity: number;
  /** Units other devices hold in escrow, when the node says so: not for this device to sell. */
  reserved: number;
}

/** One grant of the node (one row of its escrow_quotas), and what this device has left of it. */
export interface EscrowGrantPart {
  grant_id: string | null;
  qty_granted: number;
  remaining: number;
  expires_at: string;
}

/**
 * What the node reserved of one product for this device (deliverable 12). The node keeps one quota
 * per grant, each with its own expiry, and a device may hold several: `grants` mirrors them, and
 * the totals below sum the grants that had not expired when the row was last written.
 */
export interface EscrowQuota {
  product_id: string;
  qty_granted: number;
  /** Units of the quota this device has sold since it was granted. */
  qty_used: number;
  /** The latest expiry among the grants. */
  expires_at: string;
  granted_at: string;
  /** The grants, earliest expiry first (absent on rows written before grants were kept apart: one grant). */
  grants?: EscrowGrantPart[];
}

/** A block of fiscal numbers reserved for this device (seed 003 deliverable 9). */
export interface FiscalRange {
  series_id: string;
  range_start: number;
  range_end: number;
  /** The next number to use; above range_end means used up. */
  next_number: number;
  expires_at: string;
  reserved_at: string;
}

/** Units sold per product and UTC day, store-wide (from the pulled feed and own sales): top sellers. */
export interface SalesStat {
  product_id: string;
  day: string;
  qty: number;
}

/** Who this device is and its clocks. One row, key 'self'. */
export interface DeviceIdentity {
  key: 'self';
  store_id: string;
  device_id: string;
  token: string;
  /** The invoice series this till numbers; null for a till that does not invoice. */
  series_id: string | null;
  /** The warehouse it sells from; null for the store's default warehouse (the store id). */
  warehouse_id: string | null;
  /** The last seq given to an event. */
  seq: number;
  /** {device_id: seq} merged with every clock seen in a pull. */
  vector_clock: Record<string, number>;
  /** The last created_at given or seen (ms): the hybrid clock never goes back. */
  last_time_ms: number;
}

/**
 * The warehouse this till sells from: the one it was signed in with, else the store's default
 * warehouse (whose id is the store's). Sales, the validator and the escrow bookkeeping all use it.
 */
export function saleWarehouse(me: { store_id: string; warehouse_id?: string | null }): string {
  return (me.warehouse_id ?? me.store_id).toLowerCase();
}

export interface SyncStateRow {
  key: 'cursor' | 'last_synced_at' | 'bootstrapped';
  value: number | string | boolean;
}

export class PosDatabase extends Dexie {
  outbox!: EntityTable<QueuedEvent, 'seq'>;
  dead_letters!: EntityTable<DeadLetter, 'event_id'>;
  products!: EntityTable<CachedProduct, 'id'>;
  warehouse_stock_cache!: Dexie.Table<StockCacheRow, [string, string]>;
  escrow_quotas!: EntityTable<EscrowQuota, 'product_id'>;
  fiscal_ranges!: EntityTable<FiscalRange, 'series_id'>;
  sales_stats!: Dexie.Table<SalesStat, [string, string]>;
  device!: EntityTable<DeviceIdentity, 'key'>;
  sync_state!: EntityTable<SyncStateRow, 'key'>;

  constructor(name = 'velox-pos', options?: ConstructorParameters<typeof Dexie>[1]) {
    super(name, options);
    this.version(1).stores({
      outbox: 'seq, &event_id, status',
      dead_letters: 'event_id, seq',
      products: 'id, name',
      warehouse_stock_cache: '[product_id+warehouse_id], product_id',
      escrow_quotas: 'product_id',
      fiscal_ranges: 'series_id',
      sales_stats: '[product_id+day], day',
      device: 'key',
      sync_state: 'key',
    });
  }
}
