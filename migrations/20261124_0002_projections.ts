import { Kysely, sql } from 'kysely';

// Read models built from the event log. Every column is a pure function of the set of events
// (no now(), no arrival order), so two nodes holding the same events hold identical tables.
export async function up(db: Kysely<any>): Promise<void> {
  const money = sql`numeric(16,2)`;
  const quantity = sql`numeric(16,3)`;

  await db.schema
    .createTable('sales')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('warehouse_id', 'uuid', (c) => c.notNull())
    .addColumn('customer_id', 'uuid')
    .addColumn('session_id', 'uuid')
    .addColumn('total', money, (c) => c.notNull())
    .addColumn('payment_method', 'text')
    .addColumn('invoice_series_id', 'uuid')
    .addColumn('fiscal_number', 'bigint')
    .addColumn('sold_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sold_by', 'text')
    .addColumn('voided_at', 'timestamptz')
    .addColumn('void_event_id', 'uuid')
    .addColumn('void_reason', 'text')
    .execute();
  await db.schema.createIndex('sales_store_sold_idx').on('sales').columns(['store_id', 'sold_at']).execute();
  await db.schema
    .createIndex('sales_fiscal_idx')
    .on('sales')
    .columns(['invoice_series_id', 'fiscal_number'])
    .where(sql.ref('fiscal_number'), 'is not', null)
    .execute();

  await db.schema
    .createTable('sale_items')
    .addColumn('sale_id', 'uuid', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty', quantity, (c) => c.notNull())
    .addColumn('unit_price', money, (c) => c.notNull())
    .addColumn('line_total', money, (c) => c.notNull())
    .addPrimaryKeyConstraint('sale_items_pk', ['sale_id', 'line_no'])
    .execute();
  await db.schema.createIndex('sale_items_product_idx').on('sale_items').column('product_id').execute();

  // Voids are kept on their own so a void that arrives before its sale is applied when the sale lands.
  await db.schema
    .createTable('sale_voids')
    .addColumn('event_id', 'uuid', (c) => c.primaryKey())
    .addColumn('sale_id', 'uuid', (c) => c.notNull())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('voided_at', 'timestamptz', (c) => c.notNull())
    .addColumn('reason', 'text')
    .execute();
  await db.schema.createIndex('sale_voids_sale_idx').on('sale_voids').column('sale_id').execute();

  await db.schema
    .createTable('stock_movements')
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('warehouse_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty_delta', quantity, (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('stock_movements_pk', ['event_id', 'line_no'])
    .execute();
  await db.schema
    .createIndex('stock_movements_item_idx')
    .on('stock_movements')
    .columns(['store_id', 'warehouse_id', 'product_id'])
    .execute();

  await db.schema
    .createTable('warehouse_stock')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('warehouse_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('stock', quantity, (c) => c.notNull())
    .addPrimaryKeyConstraint('warehouse_stock_pk', ['store_id', 'warehouse_id', 'product_id'])
    .execute();

  await db.schema
    .createTable('debts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('customer_id', 'uuid')
    .addColumn('sale_id', 'uuid')
    .addColumn('total_amount', money, (c) => c.notNull())
    .addColumn('paid_amount', money, (c) => c.notNull())
    .addColumn('remaining_amount', money, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('notes', 'text')
    .addColumn('due_date', 'date')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .execute();
  await db.schema.createIndex('debts_store_idx').on('debts').columns(['store_id', 'created_at']).execute();
  await db.schema.createIndex('debts_customer_idx').on('debts').column('customer_id').execute();

  // No foreign key to debts: a payment that arrives before its debt is kept and counted later.
  await db.schema
    .createTable('debt_payments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('debt_id', 'uuid', (c) => c.notNull())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('amount', money, (c) => c.notNull())
    .addColumn('payment_method', 'text', (c) => c.notNull())
    .addColumn('paid_at', 'timestamptz', (c) => c.notNull())
    .addColumn('paid_by', 'text')
    .addColumn('notes', 'text')
    .execute();
  await db.schema.createIndex('debt_payments_debt_idx').on('debt_payments').column('debt_id').execute();

  // Last-writer-wins registers: field_stamps holds, per field, the stamp of the write that set it.
  await db.schema
    .createTable('products')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('sku', 'text')
    .addColumn('barcode', 'text')
    .addColumn('price', money)
    .addColumn('cost', money)
    .addColumn('category', 'text')
    .addColumn('unit', 'text')
    .addColumn('track_inventory', 'boolean')
    .addColumn('active', 'boolean')
    .addColumn('field_stamps', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('products_store_idx').on('products').column('store_id').execute();

  await db.schema
    .createTable('customers')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('document_id', 'text')
    .addColumn('phone', 'text')
    .addColumn('email', 'text')
    .addColumn('address', 'text')
    .addColumn('credit_limit', money)
    .addColumn('notes', 'text')
    .addColumn('active', 'boolean')
    .addColumn('field_stamps', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('customers_store_idx').on('customers').column('store_id').execute();

  await db.schema
    .createTable('cash_sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('opened_at', 'timestamptz')
    .addColumn('opened_by', 'text')
    .addColumn('opening_amount', money)
    .addColumn('closed_at', 'timestamptz')
    .addColumn('closed_by', 'text')
    .addColumn('closing_amount', money)
    .addColumn('expected_amount', money)
    .addColumn('notes', 'text')
    .addColumn('field_stamps', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('cash_sessions_store_idx')
    .on('cash_sessions')
    .columns(['store_id', 'opened_at'])
    .execute();

  await db.schema
    .createTable('cash_ledger_entries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('session_id', 'uuid')
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount', money, (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('recorded_by', 'text')
    .execute();
  await db.schema
    .createIndex('cash_ledger_session_idx')
    .on('cash_ledger_entries')
    .column('session_id')
    .execute();

  await db.schema
    .createTable('conflict_audit_log')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('entity_type', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text')
    .addColumn('field', 'text')
    .addColumn('winner_event_id', 'uuid', (c) => c.notNull())
    .addColumn('loser_event_ids', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('strategy', 'text', (c) => c.notNull())
    .addColumn('winner_payload', 'jsonb')
    .addColumn('loser_payloads', 'jsonb')
    .addColumn('resolved_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('resolved_by', 'text', (c) => c.notNull().defaultTo('auto'))
    .execute();
  await db.schema
    .createIndex('conflict_audit_store_idx')
    .on('conflict_audit_log')
    .columns(['store_id', 'resolved_at desc'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'conflict_audit_log',
    'cash_ledger_entries',
    'cash_sessions',
    'customers',
    'products',
    'debt_payments',
    'debts',
    'warehouse_stock',
    'stock_movements',
    'sale_voids',
    'sale_items',
    'sales',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
