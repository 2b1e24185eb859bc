import type { ColumnType, Generated, Selectable } from 'kysely';

// Table types of the ERP bridge (migration 20261202_0008_erp), kept apart from the POS tables so the
// two bounded contexts read apart; `Database` (schema.ts) extends `ErpTables`.

type Numeric = ColumnType<string, number | string, number | string>;
type NullableNumeric = ColumnType<string | null, number | string | null, number | string | null>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;
type GeneratedJson<T = unknown> = ColumnType<T, string | T | undefined, string | T>;

export type ErpMappingType = 'unit' | 'vat' | 'family' | 'subfamily';
export type ErpJobStatus = 'pending' | 'in_progress' | 'completed' | 'failed';
export type ErpBreakerState = 'closed' | 'open' | 'half_open';
export type ErpReconcileEventType = 'in_sync' | 'drift_resolved' | 'drift_unresolved' | 'failed';

export interface ErpAgentsTable {
  id: Generated<string>;
  vendor_id: string;
  agent_url: string;
  auth_token_hash: string;
  token_lookup: string;
  version: string | null;
  capabilities: GeneratedJson<string[]>;
  config: GeneratedJson<Record<string, unknown>>;
  is_active: Generated<boolean>;
  last_heartbeat_at: NullableTimestamp;
  last_heartbeat_info: GeneratedJson<Record<string, unknown>>;
  registered_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ErpCodeMappingsTable {
  id: Generated<string>;
  vendor_id: string;
  mapping_type: ErpMappingType;
  erp_code: string;
  resto_code: string;
  resto_label: string | null;
  is_active: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ErpItemsTable {
  vendor_id: string;
  sku: string;
  name: string;
  erp_unit: string;
  erp_vat: string;
  unit_code: string;
  vat_code: string;
  family_code: string | null;
  subfamily_code: string | null;
  price: NullableNumeric;
  data: Json<Record<string, unknown>>;
  content_hash: string;
  erp_updated_at: Timestamp;
  last_synced_at: Generated<Date>;
}

export interface ErpWarehousesTable {
  vendor_id: string;
  erp_warehouse_id: string;
  name: string;
  data: Json<Record<string, unknown>>;
  content_hash: string;
  erp_updated_at: Timestamp;
  last_synced_at: Generated<Date>;
}

export interface ErpStockTable {
  vendor_id: string;
  warehouse_id: string;
  item_id: string;
  stock_key: string;
  quantity: Numeric;
  data: Json<Record<string, unknown>>;
  content_hash: string;
  erp_updated_at: Timestamp;
  last_synced_at: Generated<Date>;
}

export interface ErpOrdersTable {
  id: Generated<string>;
  vendor_id: string;
  payload: Json<Record<string, unknown>>;
  erp_reference: string | null;
  /** The POS sale the order came from (migration 20261204_0012); null for admin test orders. */
  store_id: string | null;
  sale_id: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ErpSyncJobsTable {
  id: Generated<string>;
  vendor_id: string;
  order_id: string | null;
  job_type: string;
  payload: Json<Record<string, unknown>>;
  status: Generated<ErpJobStatus>;
  attempts: Generated<number>;
  last_error: string | null;
  erp_reference: string | null;
  correlation_id: string;
  /** What the agent sees as Idempotency-Key; null means the job id (a DLQ retry keeps the original). */
  idempotency_key: string | null;
  /** When its ErpOrderDelivery was started; null: never (the order sweep starts it). */
  workflow_started_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  completed_at: NullableTimestamp;
}

export interface ErpDeadLettersTable {
  id: Generated<string>;
  /** Null once the job row is gone (retention): the dead letter keeps its own payload copy. */
  job_id: string | null;
  vendor_id: string;
  payload: Json<Record<string, unknown>>;
  error: string;
  attempts: number;
  retry_count: Generated<number>;
  last_retry_job_id: string | null;
  resolved_at: NullableTimestamp;
  resolved_by: string | null;
  resolution: string | null;
  created_at: Generated<Date>;
}

export interface ErpReconciliationEventsTable {
  id: Generated<string>;
  vendor_id: string;
  event_type: ErpReconcileEventType;
  trigger: string;
  summary: Json<Record<string, unknown>>;
  duration_ms: number;
  created_at: Generated<Date>;
}

export interface ErpCircuitBreakersTable {
  vendor_id: string;
  api_type: string;
  state: Generated<ErpBreakerState>;
  calls: Generated<number>;
  failures: Generated<number>;
  window_started_at: Generated<Date>;
  opened_at: NullableTimestamp;
  trial_started_at: NullableTimestamp;
  updated_at: Generated<Date>;
}

export interface ErpAuditLogTable {
  id: Generated<string>;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details: GeneratedJson<Record<string, unknown>>;
  created_at: Generated<Date>;
}

/** One row: bumped by a trigger on every write to erp_code_mappings (the caches' invalidation). */
export interface ErpMappingVersionTable {
  id: Generated<boolean>;
  version: Generated<string>;
}

/** Which ERP vendor a POS store's sales go to as orders (admin-configured). */
export interface ErpStoreVendorsTable {
  store_id: string;
  vendor_id: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** The order producer's cursor over the event log (node_seq of the last event it read). */
export interface ErpOrderFeedTable {
  name: string;
  node_seq: ColumnType<string, string | number, string | number>;
  updated_at: Generated<Date>;
}

export interface ErpTables {
  erp_agents: ErpAgentsTable;
  erp_code_mappings: ErpCodeMappingsTable;
  erp_mapping_version: ErpMappingVersionTable;
  erp_items: ErpItemsTable;
  erp_warehouses: ErpWarehousesTable;
  erp_stock: ErpStockTable;
  erp_orders: ErpOrdersTable;
  erp_sync_jobs: ErpSyncJobsTable;
  erp_dead_letters: ErpDeadLettersTable;
  erp_reconciliation_events: ErpReconciliationEventsTable;
  erp_circuit_breakers: ErpCircuitBreakersTable;
  erp_audit_log: ErpAuditLogTable;
  erp_store_vendors: ErpStoreVendorsTable;
  erp_order_feed: ErpOrderFeedTable;
}

export type ErpAgent = Selectable<ErpAgentsTable>;
export type ErpCodeMapping = Selectable<ErpCodeMappingsTable>;
export type ErpSyncJob = Selectable<ErpSyncJobsTable>;
export type ErpDeadLetter = Selectable<ErpDeadLettersTable>;
export type ErpReconciliationEvent = Selectable<ErpReconciliationEventsTable>;
export type ErpCircuitBreaker = Selectable<ErpCircuitBreakersTable>;
export type ErpStoreVendor = Selectable<ErpStoreVendorsTable>;
