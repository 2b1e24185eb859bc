import { Kysely, sql } from 'kysely';

// The read side (GET /stores/{id}/explain/…). Explaining a product reads every write of it from the
// log: a partial index over the product events only (a small share of the log, so ingest pays for
// it on those events alone). Explaining a product also reads its rows of the conflict audit.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX events_product_writes_idx ON events (store_id, (lower(payload->>'product_id')))
    WHERE type IN ('ProductCreated', 'ProductUpdated')`.execute(db);
  await sql`CREATE INDEX conflict_audit_entity_idx ON conflict_audit_log (store_id, entity_type, entity_id)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS conflict_audit_entity_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS events_product_writes_idx`.execute(db);
}
