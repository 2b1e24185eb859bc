import { Kysely, sql } from 'kysely';

// The append-only event log (the source of truth and the relay's outbox) and the node's own
// bookkeeping: stores, devices, anti-entropy digests.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS pgcrypto`.execute(db);

  await db.schema
    .createTable('stores')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('devices')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('store_id', 'uuid', (c) => c.notNull().references('stores.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('devices_store_idx').on('devices').column('store_id').execute();

  await db.schema
    .createTable('events')
    .addColumn('event_id', 'uuid', (c) => c.primaryKey())
    .addColumn('node_seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('vector_clock', 'jsonb', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('full_payload_hash', 'text', (c) => c.notNull())
    .addColumn('delta_payload', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('origin_node', 'text', (c) => c.notNull())
    .addColumn('actor_user_id', 'text')
    // Who handed the event to this node: a device, an admin, or a peer node ('system-federation').
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('source_peer', 'text')
    .addColumn('projection_status', 'text', (c) =>
      c.notNull().check(sql`projection_status IN ('processed', 'failed', 'pending')`),
    )
    .addColumn('projection_error', 'text')
    .addColumn('projection_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Change feed (pull) and relay cursor: by store and by node_seq.
  await db.schema
    .createIndex('events_store_seq_idx')
    .on('events')
    .columns(['store_id', 'node_seq'])
    .execute();
  // Orphan healer: only the few rows that still need projecting.
  await sql`CREATE INDEX events_unprojected_idx ON events (received_at) WHERE projection_status <> 'processed'`.execute(
    db,
  );
  // Anti-entropy: list ids inside one store-hour bucket.
  await db.schema
    .createIndex('events_store_created_idx')
    .on('events')
    .columns(['store_id', 'created_at'])
    .execute();

  // Order-independent digest per (store, UTC hour of created_at): count and XOR of
  // sha256(event_id || full_payload_hash), updated in the ingest transaction.
  await db.schema
    .createTable('event_digests')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('bucket_hour', 'timestamptz', (c) => c.notNull())
    .addColumn('event_count', 'bigint', (c) => c.notNull())
    .addColumn('digest', sql`bit(256)`, (c) => c.notNull())
    .addPrimaryKeyConstraint('event_digests_pk', ['store_id', 'bucket_hour'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('event_digests').execute();
  await db.schema.dropTable('events').execute();
  await db.schema.dropTable('devices').execute();
  await db.schema.dropTable('stores').execute();
}
