import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, FiscalSeriesTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// A store's invoice series (FiscalSeriesDeclared). Two declarations of one series converge on the
// one with the smallest event id, whatever the order they arrive in.

export type FiscalSeries = Selectable<FiscalSeriesTable>;
type Executor = Db | Transaction<Database>;

export const FISCAL_SERIES_COLUMNS = {
  store_id: 'uuid',
  series_id: 'uuid',
  prefix: 'text',
  first_number: 'bigint',
  last_number: 'bigint',
  valid_until: 'timestamptz',
  home_node: 'text',
  implicit: 'boolean',
  declared_at: 'timestamptz',
  event_id: 'uuid',
} as const satisfies ColumnMap<FiscalSeriesTable>;

export type FiscalSeriesRow = { [K in keyof typeof FISCAL_SERIES_COLUMNS]: unknown };

/** Upserts declarations (one per series in `rows`): the smaller event id wins. */
export async function upsertSeries(trx: Transaction<Database>, rows: FiscalSeriesRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = columnList(FISCAL_SERIES_COLUMNS);
  const set = Object.keys(FISCAL_SERIES_COLUMNS)
    .filter((c) => c !== 'store_id' && c !== 'series_id')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  await sql`
    INSERT INTO fiscal_series (${cols})
    SELECT ${cols} FROM ${recordset(FISCAL_SERIES_COLUMNS, rows)}
    ON CONFLICT (store_id, series_id) DO UPDATE SET ${sql.raw(set)}
    WHERE excluded.event_id < fiscal_series.event_id`.execute(trx);
}

export function findSeries(
  db: Executor,
  storeId: string,
  seriesId: string,
): Promise<FiscalSeries | undefined> {
  return db
    .selectFrom('fiscal_series')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .executeTakeFirst();
}

/** The home node each of these series is declared with now (by store and series). */
export async function homesOf(
  trx: Transaction<Database>,
  keys: { store_id: string; series_id: string }[],
): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const r = await sql<{ store_id: string; series_id: string; home_node: string }>`
    SELECT s.store_id, s.series_id, s.home_node FROM fiscal_series s
    JOIN unnest(${keys.map((k) => k.store_id)}::uuid[], ${keys.map((k) => k.series_id)}::uuid[])
      AS k(store_id, series_id) USING (store_id, series_id)`.execute(trx);
  return new Map(r.rows.map((x) => [`${x.store_id}:${x.series_id}`, x.home_node]));
}
