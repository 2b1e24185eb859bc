import { Kysely, sql } from 'kysely';

// Alerts: what the node wants a person to know (a duplicate invoice number, negative stock, an ERP
// agent offline). Written by the features that detect the problem; read and delivered by the health
// monitor. A store's alerts carry its id; node-wide ones (a peer, an ERP vendor) have none.
// `dedup_key` folds repeats: a second alert with the same key inside its window counts as an
// occurrence of the first instead of a new row.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull().check(sql`severity IN ('P0', 'P1', 'P2', 'P3')`))
    .addColumn('store_id', 'uuid')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('dedup_key', 'text', (c) => c.notNull())
    .addColumn('occurrences', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('open')
        .check(sql`status IN ('open', 'acknowledged', 'resolved')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('resolved_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX alerts_dedup_idx ON alerts (dedup_key, created_at DESC)`.execute(db);
  await sql`CREATE INDEX alerts_store_idx ON alerts (store_id, created_at DESC)`.execute(db);
  await sql`CREATE INDEX alerts_open_idx ON alerts (created_at) WHERE status = 'open'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alerts').execute();
}
