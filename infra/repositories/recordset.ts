import { sql, type RawBuilder } from 'kysely';

/** PostgreSQL types a row can carry through jsonb_to_recordset. */
export type PgType =
  'uuid' | 'text' | 'int' | 'bigint' | 'numeric' | 'boolean' | 'timestamptz' | 'date' | 'jsonb' | 'text[]';

/**
 * A table's columns and their types, in one typed map per table: the keys must be columns of the
 * table's row type, so a misspelt or dropped column fails to compile instead of failing at run time.
 */
export type ColumnMap<Row> = { readonly [K in keyof Row]?: PgType };

/** The comma-separated column names of a map (an INSERT's column list, or a SELECT's). */
export function columnList(columns: Record<string, PgType>, prefix = ''): RawBuilder<unknown> {
  return sql.raw(
    Object.keys(columns)
      .map((c) => `${prefix}${c}`)
      .join(', '),
  );
}

/**
 * `jsonb_to_recordset($1::jsonb) AS alias(col type, …)`: the rows of a batch as one parameter, typed by
 * the column map. Rows may carry more keys than the map; only the mapped ones are read.
 */
export function recordset<C extends Record<string, PgType>>(
  columns: C,
  rows: readonly { [K in keyof C]?: unknown }[],
  alias = 'x',
): RawBuilder<unknown> {
  const types = Object.entries(columns)
    .map(([c, t]) => `${c} ${t}`)
    .join(', ');
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS ${sql.raw(alias)}(${sql.raw(types)})`;
}

/** `SET col = excluded.col, …` for an upsert of these columns. */
export function excludedSet(columns: readonly string[]): RawBuilder<unknown> {
  return sql.raw(columns.map((c) => `${c} = excluded.${c}`).join(', '));
}

/** A (store, id) pair: how every per-store row is addressed. */
export interface StoreKey {
  store_id: string;
  id: string;
}

/** `unnest(stores, ids) AS alias(store_id, id)`: a set of (store, id) keys as one relation. */
export function storeKeys(keys: readonly StoreKey[], alias = 'k'): RawBuilder<unknown> {
  return sql`unnest(${keys.map((k) => k.store_id)}::uuid[], ${keys.map((k) => k.id)}::uuid[]) AS ${sql.raw(
    alias,
  )}(store_id, id)`;
}

/** Text form of a store key, for advisory locks and maps. */
export const keyText = (k: StoreKey) => `${k.store_id}:${k.id}`;

/** (store, id) keys without repeats, sorted: the lock order every request uses. */
export function uniqueKeys(keys: StoreKey[]): StoreKey[] {
  const byText = new Map(keys.map((k) => [keyText(k), k]));
  return [...byText.keys()].sort().map((t) => byText.get(t)!);
}
