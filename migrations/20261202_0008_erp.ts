import { Kysely, sql } from 'kysely';

// The ERP bridge (seed 004, docs/erp-bridge.md): a second bounded context with tables of its own,
// never the POS event log. Agents register per vendor; their catalogue, stock and warehouses are
// upserted here by content hash; orders go to the ERP as sync jobs (one ErpOrderDelivery workflow
// each) and land in dead letters when every attempt failed; reconciliation runs are logged; circuit
// breakers are rows, so every worker sees one state per vendor and API type. Every filter the admin
// API offers has an index.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('erp_agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vendor_id', 'text', (c) => c.notNull().unique())
    .addColumn('agent_url', 'text', (c) => c.notNull())
    // bcrypt (10 rounds) of the agent's own token, and its sha-256 to find the agent by token.
    .addColumn('auth_token_hash', 'text', (c) => c.notNull())
    .addColumn('token_lookup', 'text', (c) => c.notNull().unique())
    .addColumn('version', 'text')
    .addColumn('capabilities', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('config', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('last_heartbeat_at', 'timestamptz')
    .addColumn('last_heartbeat_info', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('registered_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_agents_heartbeat_idx ON erp_agents (last_heartbeat_at)`.execute(db);

  await db.schema
    .createTable('erp_code_mappings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('mapping_type', 'text', (c) =>
      c.notNull().check(sql`mapping_type IN ('unit', 'vat', 'family', 'subfamily')`),
    )
    .addColumn('erp_code', 'text', (c) => c.notNull())
    .addColumn('resto_code', 'text', (c) => c.notNull())
    .addColumn('resto_label', 'text')
    .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('erp_code_mappings_key', ['vendor_id', 'mapping_type', 'erp_code'])
    .execute();
  await sql`CREATE INDEX erp_code_mappings_list_idx ON erp_code_mappings (vendor_id, mapping_type, is_active)`.execute(
    db,
  );

  // Ingested ERP data. `content_hash` is the sha-256 of the record as the agent sent it (without its
  // timestamp): unchanged records are skipped, and reconciliation checksums are built from it.
  await db.schema
    .createTable('erp_items')
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('erp_unit', 'text', (c) => c.notNull())
    .addColumn('erp_vat', 'text', (c) => c.notNull())
    .addColumn('unit_code', 'text', (c) => c.notNull())
    .addColumn('vat_code', 'text', (c) => c.notNull())
    .addColumn('family_code', 'text')
    .addColumn('subfamily_code', 'text')
    .addColumn('price', 'numeric')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('erp_updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_synced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('erp_items_pk', ['vendor_id', 'sku'])
    .execute();
  // Reconciliation ranges are byte-ordered (COLLATE "C"), the order agents compute checksums in.
  await sql`CREATE INDEX erp_items_range_idx ON erp_items (vendor_id, sku COLLATE "C") INCLUDE (content_hash)`.execute(
    db,
  );

  await db.schema
    .createTable('erp_warehouses')
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('erp_warehouse_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('erp_updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_synced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('erp_warehouses_pk', ['vendor_id', 'erp_warehouse_id'])
    .execute();

  await db.schema
    .createTable('erp_stock')
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('warehouse_id', 'text', (c) => c.notNull())
    .addColumn('item_id', 'text', (c) => c.notNull())
    // The reconciliation key (item@warehouse), kept so a range is one index scan.
    .addColumn('stock_key', 'text', (c) => c.notNull())
    .addColumn('quantity', 'numeric', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('erp_updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_synced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('erp_stock_pk', ['vendor_id', 'warehouse_id', 'item_id'])
    .execute();
  await sql`CREATE INDEX erp_stock_range_idx ON erp_stock (vendor_id, stock_key COLLATE "C") INCLUDE (content_hash)`.execute(
    db,
  );

  // Orders handed to the ERP (the seed's FK→orders: this node keeps the ERP's copy here).
  await db.schema
    .createTable('erp_orders')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('erp_reference', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_orders_vendor_idx ON erp_orders (vendor_id, created_at DESC)`.execute(db);

  await db.schema
    .createTable('erp_sync_jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'uuid', (c) => c.references('erp_orders.id').onDelete('cascade'))
    .addColumn('job_type', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status IN ('pending', 'in_progress', 'completed', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('erp_reference', 'text')
    .addColumn('correlation_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX erp_sync_jobs_vendor_idx ON erp_sync_jobs (vendor_id, status, created_at DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX erp_sync_jobs_status_idx ON erp_sync_jobs (status, updated_at)`.execute(db);
  await sql`CREATE INDEX erp_sync_jobs_created_idx ON erp_sync_jobs (created_at DESC)`.execute(db);
  await sql`CREATE INDEX erp_sync_jobs_order_idx ON erp_sync_jobs (order_id)`.execute(db);

  await db.schema
    .createTable('erp_dead_letters')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('job_id', 'uuid', (c) => c.notNull().references('erp_sync_jobs.id').onDelete('cascade'))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    // Its own copy: the job row is cleaned up after 7 days, the dead letter stays until resolved.
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('retry_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_retry_job_id', 'uuid')
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_dead_letters_open_idx ON erp_dead_letters (created_at DESC) WHERE resolved_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX erp_dead_letters_resolved_idx ON erp_dead_letters (resolved_at) WHERE resolved_at IS NOT NULL`.execute(
    db,
  );
  await sql`CREATE INDEX erp_dead_letters_job_idx ON erp_dead_letters (job_id)`.execute(db);
  await sql`CREATE INDEX erp_dead_letters_vendor_idx ON erp_dead_letters (vendor_id, created_at DESC)`.execute(
    db,
  );

  await db.schema
    .createTable('erp_reconciliation_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) =>
      c.notNull().check(sql`event_type IN ('in_sync', 'drift_resolved', 'drift_unresolved', 'failed')`),
    )
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('summary', 'jsonb', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_reconciliation_events_vendor_idx ON erp_reconciliation_events (vendor_id, created_at DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX erp_reconciliation_events_created_idx ON erp_reconciliation_events (created_at)`.execute(
    db,
  );

  // One row per vendor and API type: every worker reads and updates the same breaker (row lock).
  await db.schema
    .createTable('erp_circuit_breakers')
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('api_type', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('closed')
        .check(sql`state IN ('closed', 'open', 'half_open')`),
    )
    .addColumn('calls', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('window_started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('opened_at', 'timestamptz')
    .addColumn('trial_started_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('erp_circuit_breakers_pk', ['vendor_id', 'api_type'])
    .execute();
  await sql`CREATE INDEX erp_circuit_breakers_state_idx ON erp_circuit_breakers (state)`.execute(db);

  // Who retried or resolved a dead letter, changed an agent or reset a breaker, and when.
  await db.schema
    .createTable('erp_audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_audit_log_target_idx ON erp_audit_log (target_type, target_id, created_at DESC)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'erp_audit_log',
    'erp_circuit_breakers',
    'erp_reconciliation_events',
    'erp_dead_letters',
    'erp_sync_jobs',
    'erp_orders',
    'erp_stock',
    'erp_warehouses',
    'erp_items',
    'erp_code_mappings',
    'erp_agents',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
