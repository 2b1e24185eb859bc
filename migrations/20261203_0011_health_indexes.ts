import { Kysely, sql } from 'kysely';

// What keeps the health report cheap on a log of millions (docs/health.md, docs/benchmarks.md).
//
// stock_movement_totals: Σ qty_delta and the number of movements per (store, warehouse, product),
// kept by statement-level triggers on stock_movements in the same transaction as the movements
// themselves. The stock-divergence check then compares two tables of one row per pair instead of
// summing every movement. The triggers see every write to stock_movements, the node's or anyone
// else's, so a movement deleted or edited behind the node's back still shows as a divergence; what
// they cannot see (writes with triggers disabled, a TRUNCATE, an edit of this table) is found by
// the daily projection self-check, which sums every movement again.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`LOCK TABLE stock_movements IN SHARE ROW EXCLUSIVE MODE`.execute(db);
  await db.schema
    .createTable('stock_movement_totals')
    .addColumn('store_id', 'uuid', (c) => c.notNull())
    .addColumn('warehouse_id', 'uuid', (c) => c.notNull())
    .addColumn('product_id', 'uuid', (c) => c.notNull())
    .addColumn('qty', 'numeric', (c) => c.notNull())
    .addColumn('movements', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('stock_movement_totals_pkey', ['store_id', 'warehouse_id', 'product_id'])
    .execute();
  // One upsert per statement, grouped by pair and in key order (concurrent writers lock the same
  // rows in the same order); a pair left without movements is removed, as warehouse_stock's is.
  await sql`
    CREATE FUNCTION stock_movement_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO stock_movement_totals AS t (store_id, warehouse_id, product_id, qty, movements)
        SELECT store_id, warehouse_id, product_id, sum(qty_delta), count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (store_id, warehouse_id, product_id)
        DO UPDATE SET qty = t.qty + excluded.qty, movements = t.movements + excluded.movements;
        RETURN NULL;
      END IF;
      IF TG_OP = 'UPDATE' THEN
        WITH d AS (
          SELECT store_id, warehouse_id, product_id, -qty_delta AS qty, -1 AS n FROM old_rows
          UNION ALL
          SELECT store_id, warehouse_id, product_id, qty_delta, 1 FROM new_rows)
        INSERT INTO stock_movement_totals AS t (store_id, warehouse_id, product_id, qty, movements)
        SELECT store_id, warehouse_id, product_id, sum(qty), sum(n) FROM d
        GROUP BY 1, 2, 3 HAVING sum(qty) <> 0 OR sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (store_id, warehouse_id, product_id)
        DO UPDATE SET qty = t.qty + excluded.qty, movements = t.movements + excluded.movements;
      ELSE
        INSERT INTO stock_movement_totals AS t (store_id, warehouse_id, product_id, qty, movements)
        SELECT store_id, warehouse_id, product_id, -sum(qty_delta), -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (store_id, warehouse_id, product_id)
        DO UPDATE SET qty = t.qty + excluded.qty, movements = t.movements + excluded.movements;
      END IF;
      DELETE FROM stock_movement_totals t USING (SELECT DISTINCT store_id, warehouse_id, product_id FROM old_rows) o
      WHERE (t.store_id, t.warehouse_id, t.product_id) = (o.store_id, o.warehouse_id, o.product_id)
        AND t.movements = 0;
      RETURN NULL;
    END
    $fn$`.execute(db);
  // A trigger with transition tables names one event (plpgsql plans each statement when it first
  // runs, so each branch only names the transition tables its event has).
  await sql`
    CREATE TRIGGER stock_movement_totals_insert AFTER INSERT ON stock_movements
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stock_movement_totals_apply()`.execute(
    db,
  );
  await sql`
    CREATE TRIGGER stock_movement_totals_update AFTER UPDATE ON stock_movements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stock_movement_totals_apply()`.execute(db);
  await sql`
    CREATE TRIGGER stock_movement_totals_delete AFTER DELETE ON stock_movements
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stock_movement_totals_apply()`.execute(
    db,
  );
  // The existing movements (migrations run in one transaction: writers wait until the triggers
  // count theirs).
  await sql`
    INSERT INTO stock_movement_totals (store_id, warehouse_id, product_id, qty, movements)
    SELECT store_id, warehouse_id, product_id, sum(qty_delta), count(*) FROM stock_movements GROUP BY 1, 2, 3`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER stock_movement_totals_delete ON stock_movements`.execute(db);
  await sql`DROP TRIGGER stock_movement_totals_update ON stock_movements`.execute(db);
  await sql`DROP TRIGGER stock_movement_totals_insert ON stock_movements`.execute(db);
  await sql`DROP FUNCTION stock_movement_totals_apply()`.execute(db);
  await db.schema.dropTable('stock_movement_totals').execute();
}
