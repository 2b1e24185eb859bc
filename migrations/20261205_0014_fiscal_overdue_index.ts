import { Kysely, sql } from 'kysely';

// The orphan healer ends this node's active ranges past their expiry on every pass (a range whose
// workflow never ran: docs/fiscal.md). Without an index that is a scan of a table that only grows;
// active ranges are few, so a partial index keeps the pass as cheap as the number of open ranges.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE INDEX IF NOT EXISTS fiscal_sequence_ranges_active_expiry
    ON fiscal_sequence_ranges (node_id, expires_at)
    WHERE status = 'active'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS fiscal_sequence_ranges_active_expiry`.execute(db);
}
