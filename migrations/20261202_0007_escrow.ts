import { Kysely, sql } from 'kysely';

// Inventory escrow (docs/escrow.md). Four insert-only read models of node-made events, each keyed by
// the store and the id its event carries, so they converge whatever the arrival order: a release or
// a consumption that arrives before its grant is kept and counted when the grant lands. What a quota
// has left is computed (granted − Σ consumed − released), never decremented in place.
// `node_event_seq` numbers the events this node makes itself (their `seq` under the node's own
// device id), unique however many API and worker processes make them.
export async function up(db: Kysely<any>): Promise<void> {
  const quantity = sql`numeric(16,3)`;
  await db.schema
    .createTable('escrow_quotas')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('grant_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty_granted', quantity, (c) => c.notNull())
    .addColumn('granted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('escrow_quotas_pk', ['store_id', 'grant_id'])
    .execute();
  await db.schema
    .createIndex('escrow_quotas_device_idx')
    .on('escrow_quotas')
    .columns(['store_id', 'device_id', 'product_id'])
    .execute();
  await db.schema
    .createIndex('escrow_quotas_product_idx')
    .on('escrow_quotas')
    .columns(['store_id', 'product_id', 'node_id'])
    .execute();

  await db.schema
    .createTable('escrow_consumptions')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('grant_id', 'uuid', (c) => c.notNull())
    .addColumn('sale_event_id', 'uuid', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty', quantity, (c) => c.notNull())
    .addPrimaryKeyConstraint('escrow_consumptions_pk', ['store_id', 'grant_id', 'sale_event_id', 'line_no'])
    .execute();

  await db.schema
    .createTable('escrow_releases')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('grant_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty_released', quantity, (c) => c.notNull())
    .addColumn('released_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('escrow_releases_pk', ['store_id', 'grant_id'])
    .execute();

  await db.schema
    .createTable('escrow_rights_moves')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('move_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('from_node', 'text', (c) => c.notNull())
    .addColumn('to_node', 'text', (c) => c.notNull())
    .addColumn('qty', quantity, (c) => c.notNull())
    .addPrimaryKeyConstraint('escrow_rights_moves_pk', ['store_id', 'move_id'])
    .execute();
  await db.schema
    .createIndex('escrow_rights_moves_product_idx')
    .on('escrow_rights_moves')
    .columns(['store_id', 'product_id'])
    .execute();

  await sql`CREATE SEQUENCE node_event_seq`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP SEQUENCE node_event_seq`.execute(db);
  for (const t of ['escrow_rights_moves', 'escrow_releases', 'escrow_consumptions', 'escrow_quotas']) {
    await db.schema.dropTable(t).execute();
  }
}
