import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, FiscalNumbersTable, FiscalSequenceRangesTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Device ranges (FiscalRangeGranted, FiscalRangeClosed). A range's end may arrive before its grant
// (a peer's log pulled by reconcile): whichever lands first creates the row. Of two ends of one range
// `exhausted` wins, then the smaller event id, so the status does not depend on arrival order.

export type FiscalRange = Selectable<FiscalSequenceRangesTable>;
type Executor = Db | Transaction<Database>;

export const RANGE_GRANT_COLUMNS = {
  store_id: 'uuid',
  range_id: 'uuid',
  series_id: 'uuid',
  device_id: 'text',
  node_id: 'text',
  block_id: 'uuid',
  range_start: 'bigint',
  range_end: 'bigint',
  granted_at: 'timestamptz',
  expires_at: 'timestamptz',
  grant_event_id: 'uuid',
} as const satisfies ColumnMap<FiscalSequenceRangesTable>;

export const RANGE_CLOSE_COLUMNS = {
  store_id: 'uuid',
  range_id: 'uuid',
  series_id: 'uuid',
  device_id: 'text',
  status: 'text',
  closed_at: 'timestamptz',
  close_event_id: 'uuid',
} as const satisfies ColumnMap<FiscalSequenceRangesTable>;

export type RangeGrantRow = { [K in keyof typeof RANGE_GRANT_COLUMNS]: unknown };
export type RangeCloseRow = { [K in keyof typeof RANGE_CLOSE_COLUMNS]: unknown };

/** Stores grants (one per range in `rows`); of two grants of one range id the smaller event id wins. */
export async function upsertRangeGrants(trx: Transaction<Database>, rows: RangeGrantRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = columnList(RANGE_GRANT_COLUMNS);
  const set = [
    'node_id',
    'block_id',
    'range_start',
    'range_end',
    'granted_at',
    'expires_at',
    'grant_event_id',
  ]
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  await sql`
    INSERT INTO fiscal_sequence_ranges (${cols})
    SELECT ${cols} FROM ${recordset(RANGE_GRANT_COLUMNS, rows)}
    ON CONFLICT (store_id, range_id) DO UPDATE SET ${sql.raw(set)}
    WHERE fiscal_sequence_ranges.grant_event_id IS NULL
       OR excluded.grant_event_id < fiscal_sequence_ranges.grant_event_id`.execute(trx);
}

/** Stores range ends (one per range in `rows`): exhausted beats expired, then the smaller event id. */
export async function upsertRangeCloses(trx: Transaction<Database>, rows: RangeCloseRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = columnList(RANGE_CLOSE_COLUMNS);
  await sql`
    INSERT INTO fiscal_sequence_ranges (${cols})
    SELECT ${cols} FROM ${recordset(RANGE_CLOSE_COLUMNS, rows)}
    ON CONFLICT (store_id, range_id) DO UPDATE SET
      status = excluded.status, closed_at = excluded.closed_at, close_event_id = excluded.close_event_id
    WHERE fiscal_sequence_ranges.close_event_id IS NULL
       OR (excluded.status = 'exhausted' AND fiscal_sequence_ranges.status <> 'exhausted')
       OR (excluded.status = fiscal_sequence_ranges.status
           AND excluded.close_event_id < fiscal_sequence_ranges.close_event_id)`.execute(trx);
}

/** Range `r`'s last number was used by its own device (the range is used up). */
const lastNumberUsed = sql<boolean>`EXISTS (SELECT 1 FROM fiscal_numbers n
  WHERE n.store_id = r.store_id AND n.series_id = r.series_id AND n.fiscal_number = r.range_end
    AND n.device_id = r.device_id)`;

/**
 * Active ranges among `rangeIds` whose last number a sale of their own device has used: they are
 * exhausted (the FiscalRange workflow is told after the commit).
 */
export async function rangesWithLastNumberUsed(
  trx: Transaction<Database>,
  storeId: string,
  rangeIds: string[],
): Promise<{ range_id: string; node_id: string | null }[]> {
  if (rangeIds.length === 0) return [];
  const r = await sql<{ range_id: string; node_id: string | null }>`
    SELECT r.range_id, r.node_id FROM fiscal_sequence_ranges r
    WHERE r.store_id = ${storeId} AND r.range_id = ANY(${rangeIds}::uuid[]) AND r.status = 'active'
      AND ${lastNumberUsed}`.execute(trx);
  return r.rows;
}

/** A used number, as `activeRangesEndingAt` reads it. */
const USED_NUMBER_COLUMNS = {
  store_id: 'uuid',
  series_id: 'uuid',
  fiscal_number: 'bigint',
  device_id: 'text',
} as const satisfies ColumnMap<FiscalNumbersTable>;

/** Active ranges whose last number is one of these numbers, used by the range's own device. */
export async function activeRangesEndingAt(
  trx: Transaction<Database>,
  used: { store_id: string; series_id: string; fiscal_number: number; device_id: string }[],
): Promise<{ store_id: string; range_id: string }[]> {
  if (used.length === 0) return [];
  const r = await sql<{ store_id: string; range_id: string }>`
    SELECT r.store_id, r.range_id FROM fiscal_sequence_ranges r
    JOIN ${recordset(USED_NUMBER_COLUMNS, used, 'u')}
      ON r.store_id = u.store_id AND r.series_id = u.series_id AND r.range_end = u.fiscal_number
        AND r.device_id = u.device_id
    WHERE r.status = 'active'`.execute(trx);
  return r.rows;
}

/** An open range that has to be ended: its device used its last number, or its time is up. */
export interface StaleRange {
  store_id: string;
  range_id: string;
  series_id: string;
  device_id: string;
  node_id: string | null;
  /** Its device used its last number: it ends `exhausted` (else `expired`). */
  used_up: boolean;
}

const staleColumns = sql<StaleRange>`r.store_id, r.range_id, r.series_id, r.device_id, r.node_id,
  ${lastNumberUsed} AS used_up`;

/**
 * The device's open ranges in the series that must not be handed back: used up (whoever granted
 * them: the sale is in this node's log), or out of time and granted by `nodeId` (its own clock
 * decides for its own ranges only). The caller holds the series lock.
 */
export async function staleDeviceRanges(
  trx: Transaction<Database>,
  key: { store_id: string; series_id: string; device_id: string },
  nodeId: string,
  now: Date,
): Promise<StaleRange[]> {
  const r = await sql<StaleRange>`
    SELECT s.store_id, s.range_id, s.series_id, s.device_id, s.node_id, s.used_up FROM (
      SELECT ${staleColumns}, r.expires_at FROM fiscal_sequence_ranges r
      WHERE r.store_id = ${key.store_id} AND r.series_id = ${key.series_id}
        AND r.device_id = ${key.device_id} AND r.status = 'active' AND r.range_start IS NOT NULL
    ) s
    WHERE s.used_up OR (s.node_id = ${nodeId} AND s.expires_at <= ${now})
    ORDER BY s.range_id`.execute(trx);
  return r.rows;
}

/**
 * Open ranges granted by `nodeId` whose time is up (their FiscalRange workflow should have ended
 * them: it never started, or was terminated), oldest expiry first.
 */
export async function overdueRanges(
  db: Executor,
  nodeId: string,
  now: Date,
  opts: { storeId?: string; limit: number },
): Promise<StaleRange[]> {
  const r = await sql<StaleRange>`
    SELECT ${staleColumns} FROM fiscal_sequence_ranges r
    WHERE r.node_id = ${nodeId} AND r.status = 'active' AND r.range_start IS NOT NULL
      AND r.expires_at <= ${now}
      ${opts.storeId === undefined ? sql`` : sql`AND r.store_id = ${opts.storeId}`}
    ORDER BY r.expires_at, r.range_id
    LIMIT ${opts.limit}`.execute(db);
  return r.rows;
}

/** Of these ranges, the ones still open (the caller holds their series lock). */
export async function openRanges(
  trx: Transaction<Database>,
  storeId: string,
  rangeIds: string[],
): Promise<StaleRange[]> {
  if (rangeIds.length === 0) return [];
  const r = await sql<StaleRange>`
    SELECT ${staleColumns} FROM fiscal_sequence_ranges r
    WHERE r.store_id = ${storeId} AND r.range_id = ANY(${rangeIds}::uuid[]) AND r.status = 'active'
      AND r.close_event_id IS NULL
    ORDER BY r.range_id`.execute(trx);
  return r.rows;
}

/** The device's active range in the series that has not run out of time, if any. */
export function findActiveRange(
  db: Executor,
  storeId: string,
  seriesId: string,
  deviceId: string,
  now: Date,
): Promise<FiscalRange | undefined> {
  return db
    .selectFrom('fiscal_sequence_ranges')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .where('device_id', '=', deviceId)
    .where('status', '=', 'active')
    .where('range_start', 'is not', null)
    .where('expires_at', '>', now)
    .orderBy('range_start', 'desc')
    .executeTakeFirst();
}

export function findRange(db: Executor, storeId: string, rangeId: string): Promise<FiscalRange | undefined> {
  return db
    .selectFrom('fiscal_sequence_ranges')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('range_id', '=', rangeId)
    .executeTakeFirst();
}

/** Every granted range of a series, lowest first. */
export function listRanges(db: Executor, storeId: string, seriesId: string): Promise<FiscalRange[]> {
  return db
    .selectFrom('fiscal_sequence_ranges')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .where('range_start', 'is not', null)
    .orderBy('range_start')
    .execute();
}

/** The store's device ranges per status (the health report's fiscal section). */
export async function countRangesByStatus(db: Executor, storeId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('fiscal_sequence_ranges')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('store_id', '=', storeId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
