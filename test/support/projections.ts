import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import type { Db } from '../../infra/db';
import { PROJECTION_TABLES } from '../../infra/db/schema';
import { ingestEvents, type IngestOptions, type IngestResult } from '../../infra/eventlog/ingest';
import { syncEventSchema, type SyncEvent } from '../../domain/events/schemas';

export const silentLog = pino({ level: 'silent' });

/** What the push route does: validate each event with its schema, then ingest the batch. */
export function push(db: Db, events: SyncEvent[], opts: Partial<IngestOptions> = {}): Promise<IngestResult> {
  const parsed = events.map((e) => syncEventSchema.parse(e));
  return ingestEvents(db, parsed, { nodeId: 'node-a', source: 'device', ...opts }, silentLog);
}

/** A readable, deterministic uuid: namespace in the first group, number in the last. */
export function uid(namespace: number, n: number): string {
  return `${namespace.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Only the rows of these stores (every convergent table has store_id); all rows without. */
const ofStores = (stores?: readonly string[]) =>
  stores ? sql`WHERE t.store_id IN (${sql.join(stores)})` : sql``;

/** Order-independent fingerprint of a whole table's content (or of the rows of some stores). */
export async function tableDigest(
  db: Db,
  table: string,
  stores?: readonly string[],
): Promise<{ rows: number; md5: string | null }> {
  const r = await sql<{ rows: string; md5: string | null }>`
    SELECT count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5
    FROM ${sql.table(table)} t ${ofStores(stores)}`.execute(db);
  return { rows: Number(r.rows[0]!.rows), md5: r.rows[0]!.md5 };
}

/** Every row of a table as text, sorted: for readable diffs when two digests differ. */
export async function tableRows(db: Db, table: string, stores?: readonly string[]): Promise<string[]> {
  const r = await sql<{ row: string }>`
    SELECT t::text AS row FROM ${sql.table(table)} t ${ofStores(stores)} ORDER BY 1`.execute(db);
  return r.rows.map((x) => x.row);
}

/** Projection tables plus the anti-entropy digests, which must not depend on arrival order either. */
export const CONVERGENT_TABLES = [...PROJECTION_TABLES, 'event_digests'] as const;

/**
 * Empties the log and every read model, so one database can serve many property runs. One DELETE
 * per table in a single statement: for a few hundred rows it is far quicker than TRUNCATE, which
 * makes new files for every table.
 */
export async function clearAll(db: Db): Promise<void> {
  const tables = [...CONVERGENT_TABLES, 'events', 'conflict_audit_log'];
  const deletes = tables.map((t, i) => sql`${sql.raw(`d${i}`)} AS (DELETE FROM ${sql.table(t)})`);
  await sql`WITH ${sql.join(deletes)} SELECT 1`.execute(db);
}

/**
 * Rows of warehouse_stock that differ from Σ stock_movements for their key (either side missing
 * counts); of some stores only, when given.
 */
export async function stockDivergence(db: Db, stores?: readonly string[]): Promise<unknown[]> {
  const r = await sql`
    WITH m AS (
      SELECT store_id, warehouse_id, product_id, sum(qty_delta) AS total
      FROM stock_movements t ${ofStores(stores)} GROUP BY 1, 2, 3
    ), ws AS (SELECT * FROM warehouse_stock t ${ofStores(stores)})
    SELECT coalesce(ws.store_id, m.store_id) AS store_id, coalesce(ws.warehouse_id, m.warehouse_id) AS warehouse_id,
      coalesce(ws.product_id, m.product_id) AS product_id, ws.stock, m.total
    FROM ws
    FULL JOIN m ON (m.store_id, m.warehouse_id, m.product_id) = (ws.store_id, ws.warehouse_id, ws.product_id)
    WHERE ws.stock IS DISTINCT FROM m.total`.execute(db);
  return r.rows;
}

/** Debts whose paid/remaining/status do not follow from their payment rows (of some stores, when given). */
export async function debtDivergence(db: Db, stores?: readonly string[]): Promise<unknown[]> {
  const r = await sql`
    WITH p AS (SELECT debt_id, sum(amount) AS paid FROM debt_payments GROUP BY debt_id)
    SELECT d.id, d.total_amount, d.paid_amount, d.remaining_amount, d.status, coalesce(p.paid, 0) AS payments
    FROM (SELECT * FROM debts t ${ofStores(stores)}) d LEFT JOIN p ON p.debt_id = d.id
    WHERE d.remaining_amount <> d.total_amount - coalesce(p.paid, 0)
       OR d.paid_amount <> coalesce(p.paid, 0)
       OR d.status <> CASE WHEN coalesce(p.paid, 0) >= d.total_amount THEN 'paid'
                           WHEN coalesce(p.paid, 0) > 0 THEN 'partial' ELSE 'pending' END`.execute(db);
  return r.rows;
}

/**
 * Every convergent table identical in two databases (whole, or the rows of some stores); otherwise
 * names the first table that differs, with (up to ten of) the rows found on only one side.
 */
export async function assertSameTables(
  a: Db,
  b: Db,
  labels: [string, string] = ['A', 'B'],
  stores?: readonly string[],
  tables: readonly string[] = CONVERGENT_TABLES,
): Promise<void> {
  for (const table of tables) {
    const [da, db] = [await tableDigest(a, table, stores), await tableDigest(b, table, stores)];
    if (da.md5 === db.md5) continue;
    const [ra, rb] = [await tableRows(a, table, stores), await tableRows(b, table, stores)];
    const [setA, setB] = [new Set(ra), new Set(rb)];
    const onlyA = ra.filter((r) => !setB.has(r));
    const onlyB = rb.filter((r) => !setA.has(r));
    throw new Error(
      `${table} differs (${da.rows} rows vs ${db.rows}).\n` +
        `only in ${labels[0]}:\n  ${onlyA.slice(0, 10).join('\n  ')}\n` +
        `only in ${labels[1]}:\n  ${onlyB.slice(0, 10).join('\n  ')}`,
    );
  }
}

/** Makes inserts and updates of one store's rows in `table` fail, as a broken projection would. */
export async function breakProjection(db: Db, table: 'sales' | 'debts' | 'debt_payments', storeId: string) {
  const trigger = `refuse_${randomUUID().replaceAll('-', '')}`;
  await sql`
    CREATE OR REPLACE FUNCTION test_refuse_store() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.store_id::text = TG_ARGV[0] THEN
        RAISE EXCEPTION '% unavailable for store %', TG_TABLE_NAME, NEW.store_id;
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER ${sql.id(trigger)} BEFORE INSERT OR UPDATE ON ${sql.table(table)}
    FOR EACH ROW EXECUTE FUNCTION test_refuse_store(${sql.lit(storeId)})`.execute(db);
  return { restore: () => sql`DROP TRIGGER ${sql.id(trigger)} ON ${sql.table(table)}`.execute(db) };
}
