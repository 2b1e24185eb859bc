import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, FiscalNumbersTable, FiscalSequenceRangesTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Every (series, number, sale) a SaleCreated carried, from a device or from a peer. A number held by
// two sales is a duplicate; a number no range of the sale's device holds is out of range (cleared when
// such a range's grant lands later, so the flag depends on the set of events, not on their order).

type Executor = Db | Transaction<Database>;

export const FISCAL_NUMBER_COLUMNS = {
  store_id: 'uuid',
  series_id: 'uuid',
  fiscal_number: 'bigint',
  sale_id: 'uuid',
  event_id: 'uuid',
  device_id: 'text',
} as const satisfies ColumnMap<FiscalNumbersTable>;

export type FiscalNumberRow = { [K in keyof typeof FISCAL_NUMBER_COLUMNS]: unknown };

export interface UsedNumber {
  store_id: string;
  series_id: string;
  fiscal_number: number;
  sale_id: string;
  device_id: string;
  out_of_range: boolean;
}

/** Records the numbers (each (series, number, sale) once); returns the rows that are new. */
export async function insertUsedNumbers(
  trx: Transaction<Database>,
  rows: FiscalNumberRow[],
): Promise<UsedNumber[]> {
  if (rows.length === 0) return [];
  const cols = columnList(FISCAL_NUMBER_COLUMNS);
  const r = await sql<Omit<UsedNumber, 'fiscal_number'> & { fiscal_number: string }>`
    INSERT INTO fiscal_numbers (${cols}, out_of_range)
    SELECT ${columnList(FISCAL_NUMBER_COLUMNS, 'x.')}, NOT EXISTS (
      SELECT 1 FROM fiscal_sequence_ranges r
      WHERE r.store_id = x.store_id AND r.series_id = x.series_id AND r.device_id = x.device_id
        AND x.fiscal_number BETWEEN r.range_start AND r.range_end)
    FROM ${recordset(FISCAL_NUMBER_COLUMNS, rows)}
    ON CONFLICT (store_id, series_id, fiscal_number, sale_id) DO NOTHING
    RETURNING store_id, series_id, fiscal_number, sale_id, device_id, out_of_range`.execute(trx);
  return r.rows.map((x) => ({ ...x, fiscal_number: Number(x.fiscal_number) }));
}

/** Of these (store, series, number) keys, those now held by more than one sale, with every sale. */
export async function duplicatesAmong(
  trx: Transaction<Database>,
  keys: { store_id: string; series_id: string; fiscal_number: number }[],
): Promise<
  {
    store_id: string;
    series_id: string;
    fiscal_number: number;
    sales: { sale_id: string; device_id: string }[];
  }[]
> {
  if (keys.length === 0) return [];
  const r = await sql<{
    store_id: string;
    series_id: string;
    fiscal_number: string;
    sales: { sale_id: string; device_id: string }[];
  }>`
    SELECT n.store_id, n.series_id, n.fiscal_number,
      jsonb_agg(jsonb_build_object('sale_id', n.sale_id, 'device_id', n.device_id) ORDER BY n.sale_id) AS sales
    FROM fiscal_numbers n
    JOIN unnest(${keys.map((k) => k.store_id)}::uuid[], ${keys.map((k) => k.series_id)}::uuid[],
                ${keys.map((k) => k.fiscal_number)}::bigint[]) AS k(store_id, series_id, fiscal_number)
      USING (store_id, series_id, fiscal_number)
    GROUP BY n.store_id, n.series_id, n.fiscal_number
    HAVING count(*) > 1
    ORDER BY 1, 2, 3`.execute(trx);
  return r.rows.map((x) => ({ ...x, fiscal_number: Number(x.fiscal_number) }));
}

/** A landed range grant, as `clearOutOfRange` reads it. */
const GRANT_KEY_COLUMNS = {
  store_id: 'uuid',
  series_id: 'uuid',
  device_id: 'text',
  range_start: 'bigint',
  range_end: 'bigint',
} as const satisfies ColumnMap<FiscalSequenceRangesTable>;

/** A range's grant landed: the numbers its device used inside it are no longer out of range. */
export async function clearOutOfRange(
  trx: Transaction<Database>,
  grants: {
    store_id: string;
    series_id: string;
    device_id: string;
    range_start: number;
    range_end: number;
  }[],
): Promise<void> {
  if (grants.length === 0) return;
  await sql`
    UPDATE fiscal_numbers n SET out_of_range = false
    FROM ${recordset(GRANT_KEY_COLUMNS, grants, 'g')}
    WHERE n.store_id = g.store_id AND n.series_id = g.series_id AND n.device_id = g.device_id
      AND n.fiscal_number BETWEEN g.range_start AND g.range_end AND n.out_of_range`.execute(trx);
}

/** The numbers used in a window of a series, with whether their sale is voided. */
export async function usedNumbersIn(
  db: Executor,
  storeId: string,
  seriesId: string,
  from: number,
  to: number,
): Promise<(UsedNumber & { voided: boolean })[]> {
  const r = await sql<Omit<UsedNumber, 'fiscal_number'> & { fiscal_number: string; voided: boolean }>`
    SELECT n.store_id, n.series_id, n.fiscal_number, n.sale_id, n.device_id, n.out_of_range,
      (s.voided_at IS NOT NULL) AS voided
    FROM fiscal_numbers n LEFT JOIN sales s ON (s.store_id, s.id) = (n.store_id, n.sale_id)
    WHERE n.store_id = ${storeId} AND n.series_id = ${seriesId}
      AND n.fiscal_number BETWEEN ${from} AND ${to}
    ORDER BY n.fiscal_number, n.sale_id`.execute(db);
  return r.rows.map((x) => ({ ...x, fiscal_number: Number(x.fiscal_number) }));
}

/** The highest number any sale used in the series (null when none). */
export async function highestUsedNumber(
  db: Executor,
  storeId: string,
  seriesId: string,
): Promise<number | null> {
  const r = await db
    .selectFrom('fiscal_numbers')
    .select((eb) => eb.fn.max('fiscal_number').as('high'))
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .executeTakeFirst();
  return r?.high === null || r?.high === undefined ? null : Number(r.high);
}
