import { Kysely, sql } from 'kysely';

// Health history and alert delivery settings. A snapshot is one store's health report at one
// monitor tick (kept for HEALTH_SNAPSHOT_RETENTION_DAYS); a store's webhook receives its alerts.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('health_snapshots')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('taken_at', 'timestamptz', (c) => c.notNull())
    .addColumn('overall', 'text', (c) =>
      c.notNull().check(sql`overall IN ('healthy', 'degraded', 'critical')`),
    )
    .addColumn('report', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('health_snapshots_pkey', ['store_id', 'taken_at'])
    .execute();
  await sql`CREATE INDEX health_snapshots_taken_idx ON health_snapshots (taken_at)`.execute(db);
  // One row per projection self-check: a store's read models rebuilt from its log and compared.
  await db.schema
    .createTable('projection_self_checks')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull())
    .addColumn('events', 'bigint', (c) => c.notNull())
    .addColumn('differences', 'integer', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('projection_self_checks_pkey', ['store_id', 'checked_at'])
    .execute();
  // Retention prunes by age across stores.
  await sql`CREATE INDEX conflict_audit_log_resolved_idx ON conflict_audit_log (resolved_at)`.execute(db);
  await sql`CREATE INDEX relay_dead_letters_resolved_idx ON relay_dead_letters (resolved_at) WHERE status = 'resolved'`.execute(
    db,
  );
  await sql`CREATE INDEX alerts_closed_idx ON alerts (last_seen_at) WHERE status <> 'open'`.execute(db);
  await db.schema
    .createTable('store_alert_settings')
    .addColumn('store_id', 'uuid', (c) => c.primaryKey())
    .addColumn('webhook_url', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of [
    'conflict_audit_log_resolved_idx',
    'relay_dead_letters_resolved_idx',
    'alerts_closed_idx',
  ])
    await sql`DROP INDEX IF EXISTS ${sql.id(index)}`.execute(db);
  await db.schema.dropTable('store_alert_settings').execute();
  await db.schema.dropTable('projection_self_checks').execute();
  await db.schema.dropTable('health_snapshots').execute();
}
