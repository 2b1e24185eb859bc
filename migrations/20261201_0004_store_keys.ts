import { Kysely, sql } from 'kysely';

// Stores are tenants: every read model is keyed by (store_id, id), so the same entity id pushed to
// two stores is two entities. Existing rows keep their data (ids were unique before, so they stay
// unique per store). Sums that grow without bound (stock, paid amounts, computed totals) become
// numeric(40, scale): a total can never overflow into a state where every later push fails.
// events.hlc is the bounded hybrid-logical timestamp stamped where an event enters the federation.
export async function up(db: Kysely<any>): Promise<void> {
  const rekey = async (table: string, columns: string[], oldConstraint: string) => {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.raw(oldConstraint)}`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.raw(`${table}_pkey`)} PRIMARY KEY (${sql.raw(
      columns.join(', '),
    )})`.execute(db);
  };
  await rekey('sales', ['store_id', 'id'], 'sales_pkey');
  await rekey('sale_items', ['store_id', 'sale_id', 'line_no'], 'sale_items_pk');
  await rekey('sale_voids', ['store_id', 'event_id'], 'sale_voids_pkey');
  await rekey('stock_movements', ['store_id', 'event_id', 'line_no'], 'stock_movements_pk');
  await rekey('debts', ['store_id', 'id'], 'debts_pkey');
  await rekey('debt_payments', ['store_id', 'id'], 'debt_payments_pkey');
  await rekey('products', ['store_id', 'id'], 'products_pkey');
  await rekey('customers', ['store_id', 'id'], 'customers_pkey');
  await rekey('cash_sessions', ['store_id', 'id'], 'cash_sessions_pkey');
  await rekey('cash_ledger_entries', ['store_id', 'id'], 'cash_ledger_entries_pkey');

  // Secondary indexes lead with the store as well.
  const reindex = async (name: string, table: string, columns: string[], where?: string) => {
    await sql`DROP INDEX IF EXISTS ${sql.raw(name)}`.execute(db);
    await sql`CREATE INDEX ${sql.raw(name)} ON ${sql.table(table)} (${sql.raw(columns.join(', '))})${sql.raw(
      where ? ` WHERE ${where}` : '',
    )}`.execute(db);
  };
  await reindex(
    'sales_fiscal_idx',
    'sales',
    ['store_id', 'invoice_series_id', 'fiscal_number'],
    'fiscal_number IS NOT NULL',
  );
  await reindex('sale_items_product_idx', 'sale_items', ['store_id', 'product_id']);
  await reindex('sale_voids_sale_idx', 'sale_voids', ['store_id', 'sale_id']);
  await reindex('debts_customer_idx', 'debts', ['store_id', 'customer_id']);
  await reindex('debt_payments_debt_idx', 'debt_payments', ['store_id', 'debt_id']);
  await reindex('cash_ledger_session_idx', 'cash_ledger_entries', ['store_id', 'session_id']);
  await sql`DROP INDEX IF EXISTS products_store_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS customers_store_idx`.execute(db);

  // 40 digits: far past any sum of inputs the event schemas allow (each at most 1e13), same scale.
  await sql`ALTER TABLE warehouse_stock ALTER COLUMN stock TYPE numeric(40,3)`.execute(db);
  await sql`ALTER TABLE debts ALTER COLUMN paid_amount TYPE numeric(40,2), ALTER COLUMN remaining_amount TYPE numeric(40,2)`.execute(
    db,
  );
  await sql`ALTER TABLE sales ALTER COLUMN total TYPE numeric(40,2)`.execute(db);
  await sql`ALTER TABLE sale_items ALTER COLUMN line_total TYPE numeric(40,2)`.execute(db);

  // The bounded ordering stamp of last-writer-wins registers; rows logged before it use created_at.
  await sql`ALTER TABLE events ADD COLUMN hlc timestamptz`.execute(db);
  await sql`UPDATE events SET hlc = created_at WHERE hlc IS NULL`.execute(db);
  await sql`ALTER TABLE events ALTER COLUMN hlc SET NOT NULL`.execute(db);
  await sql`ALTER TABLE conflict_audit_log ADD COLUMN details jsonb`.execute(db);
  // A device's latest stamp below a given seq: the floor of its next stamp (causality first).
  await sql`CREATE INDEX events_device_seq_idx ON events (store_id, device_id, seq)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS events_device_seq_idx`.execute(db);
  await sql`ALTER TABLE events DROP COLUMN hlc`.execute(db);
  await sql`ALTER TABLE conflict_audit_log DROP COLUMN details`.execute(db);
  const rekey = async (table: string, columns: string[], constraint: string) => {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.raw(`${table}_pkey`)}`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.raw(constraint)} PRIMARY KEY (${sql.raw(
      columns.join(', '),
    )})`.execute(db);
  };
  await rekey('sales', ['id'], 'sales_pkey');
  await rekey('sale_items', ['sale_id', 'line_no'], 'sale_items_pk');
  await rekey('sale_voids', ['event_id'], 'sale_voids_pkey');
  await rekey('stock_movements', ['event_id', 'line_no'], 'stock_movements_pk');
  await rekey('debts', ['id'], 'debts_pkey');
  await rekey('debt_payments', ['id'], 'debt_payments_pkey');
  await rekey('products', ['id'], 'products_pkey');
  await rekey('customers', ['id'], 'customers_pkey');
  await rekey('cash_sessions', ['id'], 'cash_sessions_pkey');
  await rekey('cash_ledger_entries', ['id'], 'cash_ledger_entries_pkey');
}
