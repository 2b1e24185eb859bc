import { Kysely, sql } from 'kysely';

// The ERP code-mapping caches of every process (API replicas, workers' reconcile activities) check
// one version number before they trust what they hold (infra/erp/mappings.ts). A statement-level
// trigger bumps it in the same transaction as any write to erp_code_mappings (the admin API's, a
// bulk seed, an operator's own SQL), so a write is visible to every cache as soon as it commits.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('erp_mapping_version')
    .addColumn('id', 'boolean', (c) =>
      c
        .primaryKey()
        .defaultTo(true)
        .check(sql`id`),
    )
    .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`INSERT INTO erp_mapping_version (id, version) VALUES (true, 0)`.execute(db);
  await sql`
    CREATE FUNCTION erp_mapping_version_bump() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE erp_mapping_version SET version = version + 1 WHERE id;
      RETURN NULL;
    END
    $fn$`.execute(db);
  await sql`
    CREATE TRIGGER erp_mapping_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp_code_mappings
    FOR EACH STATEMENT EXECUTE FUNCTION erp_mapping_version_bump()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER erp_mapping_version_bump ON erp_code_mappings`.execute(db);
  await sql`DROP FUNCTION erp_mapping_version_bump()`.execute(db);
  await db.schema.dropTable('erp_mapping_version').execute();
}
