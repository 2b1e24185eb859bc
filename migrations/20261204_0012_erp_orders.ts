import { sql, type Kysely } from 'kysely';

// The order path of the ERP bridge, second pass:
// * a dead letter outlives its job (it has its own payload copy; the seed keeps resolved ones 30 days
//   while failed jobs go after 7), so its job_id is now nullable and set to null when the job goes;
// * a job keeps the idempotency key it shows the agent (a DLQ retry reuses the original one, so the
//   agent deduplicates) and when its workflow was started (the sweep starts the ones never started);
// * POS sales of a store mapped to an ERP vendor become ERP orders: the store → vendor mapping, the
//   sale an order came from (one order per store and sale) and the producer's cursor over the log.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE erp_dead_letters DROP CONSTRAINT erp_dead_letters_job_id_fkey`.execute(db);
  await sql`ALTER TABLE erp_dead_letters ALTER COLUMN job_id DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE erp_dead_letters ADD CONSTRAINT erp_dead_letters_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES erp_sync_jobs (id) ON DELETE SET NULL`.execute(db);

  await db.schema
    .alterTable('erp_sync_jobs')
    .addColumn('idempotency_key', 'text')
    .addColumn('workflow_started_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX erp_sync_jobs_unstarted_idx ON erp_sync_jobs (created_at)
    WHERE status = 'pending' AND workflow_started_at IS NULL`.execute(db);

  await db.schema
    .alterTable('erp_orders')
    .addColumn('store_id', 'uuid')
    .addColumn('sale_id', 'uuid')
    .execute();
  await sql`CREATE UNIQUE INDEX erp_orders_sale_idx ON erp_orders (store_id, sale_id)
    WHERE sale_id IS NOT NULL`.execute(db);

  await db.schema
    .createTable('erp_store_vendors')
    .addColumn('store_id', 'uuid', (c) => c.primaryKey())
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX erp_store_vendors_vendor_idx ON erp_store_vendors (vendor_id)`.execute(db);

  await db.schema
    .createTable('erp_order_feed')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('node_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // From the head of the log: no store is mapped yet, so no earlier sale can become an order.
  await sql`INSERT INTO erp_order_feed (name, node_seq)
    SELECT 'sales', coalesce(max(node_seq), 0) FROM events`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('erp_order_feed').execute();
  await db.schema.dropTable('erp_store_vendors').execute();
  await sql`DROP INDEX erp_orders_sale_idx`.execute(db);
  await db.schema.alterTable('erp_orders').dropColumn('sale_id').dropColumn('store_id').execute();
  await sql`DROP INDEX erp_sync_jobs_unstarted_idx`.execute(db);
  await db.schema
    .alterTable('erp_sync_jobs')
    .dropColumn('workflow_started_at')
    .dropColumn('idempotency_key')
    .execute();
  await sql`DELETE FROM erp_dead_letters WHERE job_id IS NULL`.execute(db);
  await sql`ALTER TABLE erp_dead_letters DROP CONSTRAINT erp_dead_letters_job_id_fkey`.execute(db);
  await sql`ALTER TABLE erp_dead_letters ALTER COLUMN job_id SET NOT NULL`.execute(db);
  await sql`ALTER TABLE erp_dead_letters ADD CONSTRAINT erp_dead_letters_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES erp_sync_jobs (id) ON DELETE CASCADE`.execute(db);
}
