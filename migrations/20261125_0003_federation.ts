import { Kysely, sql } from 'kysely';

// Federation bookkeeping: events a peer refused for good, kept aside so they never block the relay.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('relay_dead_letters')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('peer_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('node_seq', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text', (c) => c.notNull())
    .addColumn('error_message', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('open')
        .check(sql`status IN ('open', 'resolved')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolution', 'text')
    .addUniqueConstraint('relay_dead_letters_peer_event', ['peer_id', 'event_id'])
    .execute();
  await sql`CREATE INDEX relay_dead_letters_open_idx ON relay_dead_letters (peer_id, created_at) WHERE status = 'open'`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('relay_dead_letters').execute();
}
