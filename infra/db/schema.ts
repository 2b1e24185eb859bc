import type { ColumnType, Generated, Selectable } from 'kysely';
import type { ErpTables } from './erp-schema';

/** numeric columns come back from pg as strings (exact); we write numbers or strings. */
type Numeric = ColumnType<string, number | string, number | string>;
type NullableNumeric = ColumnType<string | null, number | string | null, number | string | null>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;
/** bigint columns come back as strings from pg. */
type BigIntCol = ColumnType<string, number | string | bigint, number | string | bigint>;

export interface StoresTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}

export interface DevicesTable {
  id: string;
  store_id: string;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  revoked_at: Date | null;
}

export type ProjectionStatus = 'processed' | 'failed' | 'pending';
export type EventSource = 'device' | 'admin' | 'system-federation';

export interface EventsTable {
  event_id: string;
  node_seq: Generated<string>;
  store_id: string;
  device_id: string;
  seq: BigIntCol;
  type: string;
  vector_clock: Json<Record<string, number>>;
  payload: Json<Record<string, unknown>>;
  full_payload_hash: string;
  delta_payload: Json<unknown> | null;
  created_at: Timestamp;
  /** Ordering stamp given where the event entered the federation (domain/crdt/hlc.ts). */
  hlc: Timestamp;
  received_at: Generated<Date>;
  origin_node: string;
  actor_user_id: string | null;
  source: EventSource;
  source_peer: string | null;
  projection_status: ProjectionStatus;
  projection_error: string | null;
  projection_attempts: Generated<number>;
}

export interface EventDigestsTable {
  store_id: string;
  bucket_hour: Timestamp;
  event_count: BigIntCol;
  digest: string;
}

export interface SalesTable {
  id: string;
  store_id: string;
  device_id: string;
  event_id: string;
  warehouse_id: string;
  customer_id: string | null;
  session_id: string | null;
  total: Numeric;
  payment_method: string | null;
  invoice_series_id: string | null;
  fiscal_number: BigIntCol | null;
  sold_at: Timestamp;
  sold_by: string | null;
  voided_at: NullableTimestamp;
  void_event_id: string | null;
  void_reason: string | null;
}

export interface SaleItemsTable {
  sale_id: string;
  line_no: number;
  store_id: string;
  product_id: string;
  qty: Numeric;
  unit_price: Numeric;
  line_total: Numeric;
}

export interface SaleVoidsTable {
  event_id: string;
  sale_id: string;
  store_id: string;
  voided_at: Timestamp;
  reason: string | null;
}

export interface StockMovementsTable {
  event_id: string;
  line_no: number;
  store_id: string;
  warehouse_id: string;
  product_id: string;
  qty_delta: Numeric;
  kind: string;
  occurred_at: Timestamp;
}

export interface WarehouseStockTable {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  stock: Numeric;
}

/** Σ qty_delta and count of stock_movements per pair, kept by triggers (migration 20261203_0011). */
export interface StockMovementTotalsTable {
  store_id: string;
  warehouse_id: string;
  product_id: string;
  qty: Numeric;
  movements: BigIntCol;
}

export interface DebtsTable {
  id: string;
  store_id: string;
  event_id: string;
  customer_id: string | null;
  sale_id: string | null;
  total_amount: Numeric;
  paid_amount: Numeric;
  remaining_amount: Numeric;
  status: string;
  notes: string | null;
  due_date: string | null;
  created_at: Timestamp;
  created_by: string | null;
}

export interface DebtPaymentsTable {
  id: string;
  debt_id: string;
  store_id: string;
  event_id: string;
  amount: Numeric;
  payment_method: string;
  paid_at: Timestamp;
  paid_by: string | null;
  notes: string | null;
}

export interface ProductsTable {
  id: string;
  store_id: string;
  name: string | null;
  sku: string | null;
  barcode: string | null;
  price: NullableNumeric;
  cost: NullableNumeric;
  category: string | null;
  unit: string | null;
  track_inventory: boolean | null;
  active: boolean | null;
  field_stamps: Json<Record<string, string>>;
}

export interface CustomersTable {
  id: string;
  store_id: string;
  name: string | null;
  document_id: string | null;
  phone: string | null;
  email: string | null;
  address: string | null;
  credit_limit: NullableNumeric;
  notes: string | null;
  active: boolean | null;
  field_stamps: Json<Record<string, string>>;
}

export interface CashSessionsTable {
  id: string;
  store_id: string;
  device_id: string | null;
  opened_at: NullableTimestamp;
  opened_by: string | null;
  opening_amount: NullableNumeric;
  closed_at: NullableTimestamp;
  closed_by: string | null;
  closing_amount: NullableNumeric;
  expected_amount: NullableNumeric;
  notes: string | null;
  field_stamps: Json<Record<string, string>>;
}

export interface CashLedgerEntriesTable {
  id: string;
  store_id: string;
  session_id: string | null;
  event_id: string;
  kind: string;
  amount: Numeric;
  reason: string | null;
  occurred_at: Timestamp;
  recorded_by: string | null;
}

export interface ConflictAuditLogTable {
  id: Generated<string>;
  store_id: string;
  entity_type: string;
  entity_id: string | null;
  field: string | null;
  winner_event_id: string;
  loser_event_ids: string[];
  strategy: string;
  winner_payload: Json<unknown> | null;
  loser_payloads: Json<unknown> | null;
  /** Why, when the strategy needs more than the winner and losers (e.g. a clamped device clock). */
  details: Json<unknown> | null;
  resolved_at: Generated<Date>;
  resolved_by: Generated<string>;
}

export interface RelayDeadLettersTable {
  id: Generated<string>;
  peer_id: string;
  event_id: string;
  store_id: string;
  node_seq: BigIntCol;
  type: string;
  error_code: string;
  error_message: string;
  attempts: Generated<number>;
  status: Generated<'open' | 'resolved'>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  resolved_at: Date | null;
  resolution: string | null;
}

export type AlertSeverity = 'P0' | 'P1' | 'P2' | 'P3';

export interface AlertsTable {
  id: Generated<string>;
  type: string;
  severity: AlertSeverity;
  /** Null for node-wide alerts (a peer, an ERP vendor). */
  store_id: string | null;
  subject: string;
  payload: Json<unknown>;
  dedup_key: string;
  occurrences: Generated<number>;
  status: Generated<'open' | 'acknowledged' | 'resolved'>;
  created_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  delivered_at: Date | null;
  resolved_at: Date | null;
}

/** Escrow (docs/escrow.md): a quota granted to a device by one node, from that node's rights. */
export interface EscrowQuotasTable {
  store_id: string;
  grant_id: string;
  event_id: string;
  /** The node that granted it: the only one that consumes and releases it. */
  node_id: string;
  device_id: string;
  product_id: string;
  qty_granted: Numeric;
  granted_at: Timestamp;
  expires_at: Timestamp;
}

/** What a sale line took from a quota (decided by the quota's node when the sale reached it). */
export interface EscrowConsumptionsTable {
  store_id: string;
  grant_id: string;
  sale_event_id: string;
  line_no: number;
  event_id: string;
  product_id: string;
  qty: Numeric;
}

/** The unconsumed rest of a quota, given back to its node's rights at expiry. */
export interface EscrowReleasesTable {
  store_id: string;
  grant_id: string;
  event_id: string;
  product_id: string;
  qty_released: Numeric;
  released_at: Timestamp;
}

/** Escrow rights handed from one node to another (the bounded counter's transfers). */
export interface EscrowRightsMovesTable {
  store_id: string;
  move_id: string;
  event_id: string;
  product_id: string;
  from_node: string;
  to_node: string;
  qty: Numeric;
}

export type OverallHealth = 'healthy' | 'degraded' | 'critical';

export interface HealthSnapshotsTable {
  store_id: string;
  taken_at: Timestamp;
  overall: OverallHealth;
  report: Json<unknown>;
}

export interface ProjectionSelfChecksTable {
  store_id: string;
  checked_at: Timestamp;
  events: BigIntCol;
  differences: number;
  duration_ms: number;
  details: Json<unknown>;
}

export interface StoreAlertSettingsTable {
  store_id: string;
  webhook_url: string | null;
  updated_at: Generated<Date>;
}

export interface FiscalSeriesTable {
  store_id: string;
  series_id: string;
  prefix: string;
  first_number: BigIntCol;
  last_number: BigIntCol | null;
  valid_until: NullableTimestamp;
  home_node: string;
  implicit: boolean;
  declared_at: Timestamp;
  event_id: string;
}

export interface FiscalBlocksTable {
  store_id: string;
  block_id: string;
  series_id: string;
  node_id: string;
  block_start: BigIntCol;
  block_end: BigIntCol;
  granted_by: string;
  granted_at: Timestamp;
  event_id: string;
}

export type FiscalRangeStatus = 'active' | 'exhausted' | 'expired';

/** Range columns are null while only the range's end has arrived (from a peer). */
export interface FiscalSequenceRangesTable {
  store_id: string;
  range_id: string;
  series_id: string;
  device_id: string;
  node_id: string | null;
  block_id: string | null;
  range_start: BigIntCol | null;
  range_end: BigIntCol | null;
  granted_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  grant_event_id: string | null;
  status: FiscalRangeStatus;
  closed_at: NullableTimestamp;
  close_event_id: string | null;
}

export interface FiscalNumbersTable {
  store_id: string;
  series_id: string;
  fiscal_number: BigIntCol;
  sale_id: string;
  event_id: string;
  device_id: string;
  out_of_range: boolean;
}

export interface Database extends ErpTables {
  stores: StoresTable;
  devices: DevicesTable;
  events: EventsTable;
  event_digests: EventDigestsTable;
  sales: SalesTable;
  sale_items: SaleItemsTable;
  sale_voids: SaleVoidsTable;
  stock_movements: StockMovementsTable;
  warehouse_stock: WarehouseStockTable;
  stock_movement_totals: StockMovementTotalsTable;
  debts: DebtsTable;
  debt_payments: DebtPaymentsTable;
  products: ProductsTable;
  customers: CustomersTable;
  cash_sessions: CashSessionsTable;
  cash_ledger_entries: CashLedgerEntriesTable;
  conflict_audit_log: ConflictAuditLogTable;
  relay_dead_letters: RelayDeadLettersTable;
  alerts: AlertsTable;
  escrow_quotas: EscrowQuotasTable;
  escrow_consumptions: EscrowConsumptionsTable;
  escrow_releases: EscrowReleasesTable;
  escrow_rights_moves: EscrowRightsMovesTable;
  health_snapshots: HealthSnapshotsTable;
  store_alert_settings: StoreAlertSettingsTable;
  projection_self_checks: ProjectionSelfChecksTable;
  fiscal_series: FiscalSeriesTable;
  fiscal_blocks: FiscalBlocksTable;
  fiscal_sequence_ranges: FiscalSequenceRangesTable;
  fiscal_numbers: FiscalNumbersTable;
}

export type EventRow = Selectable<EventsTable>;
export type Store = Selectable<StoresTable>;
export type Device = Selectable<DevicesTable>;

/** The tables that are pure read models of the event log (compared across nodes for convergence). */
export const PROJECTION_TABLES = [
  'sales',
  'sale_items',
  'sale_voids',
  'stock_movements',
  'warehouse_stock',
  'debts',
  'debt_payments',
  'products',
  'customers',
  'cash_sessions',
  'cash_ledger_entries',
  'escrow_quotas',
  'escrow_consumptions',
  'escrow_releases',
  'escrow_rights_moves',
] as const satisfies ReadonlyArray<keyof Database>;

/** The fiscal read models (infra/projections/fiscal.ts): convergent like the tables above. */
export const FISCAL_TABLES = [
  'fiscal_series',
  'fiscal_blocks',
  'fiscal_sequence_ranges',
  'fiscal_numbers',
] as const satisfies ReadonlyArray<keyof Database>;
