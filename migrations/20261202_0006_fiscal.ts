import { Kysely, sql } from 'kysely';

// Fiscal number ranges (docs/fiscal.md). Every table is a read model of node-made events
// (FiscalSeriesDeclared, FiscalBlockGranted, FiscalRangeGranted, FiscalRangeClosed) and of the
// numbers sales carry, so every node that has the same events has the same rows.
//   fiscal_series           a store's invoice series: prefix, first number, authorised last number
//   fiscal_blocks           numbers the series' home node gave to one node to hand out
//   fiscal_sequence_ranges  numbers a node gave to one device (the seeds' table)
//   fiscal_numbers          each (series, number, sale) seen in a SaleCreated: duplicates set-wise
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('fiscal_series')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('series_id', 'uuid', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('first_number', 'bigint', (c) => c.notNull())
    .addColumn('last_number', 'bigint')
    .addColumn('valid_until', 'timestamptz')
    .addColumn('home_node', 'text', (c) => c.notNull())
    .addColumn('implicit', 'boolean', (c) => c.notNull())
    .addColumn('declared_at', 'timestamptz', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addPrimaryKeyConstraint('fiscal_series_pk', ['store_id', 'series_id'])
    .execute();

  await db.schema
    .createTable('fiscal_blocks')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('block_id', 'uuid', (c) => c.notNull())
    .addColumn('series_id', 'uuid', (c) => c.notNull())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('block_start', 'bigint', (c) => c.notNull())
    .addColumn('block_end', 'bigint', (c) => c.notNull())
    .addColumn('granted_by', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addPrimaryKeyConstraint('fiscal_blocks_pk', ['store_id', 'block_id'])
    .execute();
  await sql`CREATE INDEX fiscal_blocks_series_idx ON fiscal_blocks (store_id, series_id, block_start)`.execute(
    db,
  );

  // A range's end may arrive (from a peer) before its grant: the row is then created by the end and
  // the grant fills in the rest, so the range columns are nullable until the grant lands.
  await db.schema
    .createTable('fiscal_sequence_ranges')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('range_id', 'uuid', (c) => c.notNull())
    .addColumn('series_id', 'uuid', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('node_id', 'text')
    .addColumn('block_id', 'uuid')
    .addColumn('range_start', 'bigint')
    .addColumn('range_end', 'bigint')
    .addColumn('granted_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('grant_event_id', 'uuid')
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('active')
        .check(sql`status IN ('active', 'exhausted', 'expired')`),
    )
    .addColumn('closed_at', 'timestamptz')
    .addColumn('close_event_id', 'uuid')
    .addPrimaryKeyConstraint('fiscal_sequence_ranges_pk', ['store_id', 'range_id'])
    .execute();
  await sql`CREATE INDEX fiscal_ranges_device_idx
    ON fiscal_sequence_ranges (store_id, series_id, device_id, range_start)`.execute(db);
  await sql`CREATE INDEX fiscal_ranges_series_idx
    ON fiscal_sequence_ranges (store_id, series_id, range_start)`.execute(db);
  // A reservation reads how far each of its node's blocks is handed out: max(range_end) per block.
  await sql`CREATE INDEX fiscal_ranges_block_idx
    ON fiscal_sequence_ranges (store_id, block_id, range_end)`.execute(db);

  await db.schema
    .createTable('fiscal_numbers')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('series_id', 'uuid', (c) => c.notNull())
    .addColumn('fiscal_number', 'bigint', (c) => c.notNull())
    .addColumn('sale_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    // No range of the sale's device holds the number (cleared when such a range's grant lands).
    .addColumn('out_of_range', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('fiscal_numbers_pk', ['store_id', 'series_id', 'fiscal_number', 'sale_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('fiscal_numbers').execute();
  await db.schema.dropTable('fiscal_sequence_ranges').execute();
  await db.schema.dropTable('fiscal_blocks').execute();
  await db.schema.dropTable('fiscal_series').execute();
}
