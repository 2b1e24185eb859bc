import { sql } from 'kysely';
import type { Trx } from '../projections/types';
import { recordset, storeKeys, type PgType, type StoreKey } from './recordset';

/** A row of a last-writer-wins register table: its values and, per field, the stamp that set it. */
export interface RegisterRow {
  store_id: string;
  id: string;
  values: Record<string, unknown>;
  stamps: Record<string, string>;
}

/**
 * The SQL of one register table (products, customers, cash_sessions): rows keyed by (store_id, id),
 * value columns from the table's column map, and field_stamps.
 */
export interface RegisterTable {
  table: 'products' | 'customers' | 'cash_sessions';
  columns: Record<string, PgType>;
  /** A SELECT of the rows with these keys, as (t, r) with r the row as jsonb (for a UNION ALL). */
  readSql(keys: StoreKey[]): ReturnType<typeof sql>;
  /** A data-modifying CTE body that upserts whole rows. */
  writeSql(rows: RegisterRow[]): ReturnType<typeof sql>;
}

export function registerTable(table: RegisterTable['table'], columns: Record<string, PgType>): RegisterTable {
  const names = ['store_id', 'id', 'field_stamps', ...Object.keys(columns)];
  const types = { store_id: 'uuid', id: 'uuid', field_stamps: 'jsonb', ...columns } as Record<string, PgType>;
  const list = sql.raw(names.join(', '));
  const updates = sql.raw(
    names
      .filter((c) => c !== 'store_id' && c !== 'id')
      .map((c) => `${c} = excluded.${c}`)
      .join(', '),
  );
  return {
    table,
    columns,
    readSql: (keys) =>
      sql`SELECT ${table}::text AS t, to_jsonb(x) AS r FROM ${sql.table(table)} x JOIN ${storeKeys(keys)} USING (store_id, id)`,
    writeSql: (rows) =>
      sql`INSERT INTO ${sql.table(table)} (${list})
        SELECT ${list} FROM ${recordset(
          types,
          rows.map((r) => ({ store_id: r.store_id, id: r.id, field_stamps: r.stamps, ...r.values })),
        )}
        ON CONFLICT (store_id, id) DO UPDATE SET ${updates}`,
  };
}

/** Reads the rows of several register tables in one round trip. */
export async function readRegisters(
  trx: Trx,
  reads: { spec: RegisterTable; keys: StoreKey[] }[],
): Promise<Map<string, Map<string, RegisterRow>>> {
  const out = new Map<string, Map<string, RegisterRow>>(reads.map((r) => [r.spec.table, new Map()]));
  const existing = await sql<{
    t: string;
    r: Record<string, unknown> & { id: string; store_id: string; field_stamps: Record<string, string> };
  }>`${sql.join(
    reads.map((r) => r.spec.readSql(r.keys)),
    sql` UNION ALL `,
  )}`.execute(trx);
  for (const { t, r } of existing.rows) {
    const spec = reads.find((x) => x.spec.table === t)!.spec;
    const values: Record<string, unknown> = {};
    for (const c of Object.keys(spec.columns)) values[c] = r[c];
    out.get(t)!.set(`${r.store_id}:${r.id}`, {
      store_id: r.store_id,
      id: r.id,
      values,
      stamps: { ...r.field_stamps },
    });
  }
  return out;
}

/** Writes the merged rows of several register tables in one statement (independent tables). */
export async function writeRegisters(
  trx: Trx,
  writes: { spec: RegisterTable; rows: RegisterRow[] }[],
): Promise<void> {
  const ctes = writes.map((w) => sql`${sql.raw(`w_${w.spec.table}`)} AS (${w.spec.writeSql(w.rows)})`);
  await sql`WITH ${sql.join(ctes, sql`, `)} SELECT 1`.execute(trx);
}
