import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, FiscalBlocksTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Number blocks a series' home node granted to a node (FiscalBlockGranted). A node hands out
// device ranges only from its own blocks; the home node hands out blocks only above every block
// it ever granted, so blocks of one series never overlap.

export type FiscalBlock = Selectable<FiscalBlocksTable>;
type Executor = Db | Transaction<Database>;

export const FISCAL_BLOCK_COLUMNS = {
  store_id: 'uuid',
  block_id: 'uuid',
  series_id: 'uuid',
  node_id: 'text',
  block_start: 'bigint',
  block_end: 'bigint',
  granted_by: 'text',
  granted_at: 'timestamptz',
  event_id: 'uuid',
} as const satisfies ColumnMap<FiscalBlocksTable>;

export type FiscalBlockRow = { [K in keyof typeof FISCAL_BLOCK_COLUMNS]: unknown };

export async function insertBlocks(trx: Transaction<Database>, rows: FiscalBlockRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = columnList(FISCAL_BLOCK_COLUMNS);
  await sql`
    INSERT INTO fiscal_blocks (${cols})
    SELECT ${cols} FROM ${recordset(FISCAL_BLOCK_COLUMNS, rows)}
    ON CONFLICT (store_id, block_id) DO NOTHING`.execute(trx);
}

/** A block as `overlappingBlocks` reads it. */
const BLOCK_KEY_COLUMNS = {
  store_id: 'uuid',
  series_id: 'uuid',
  block_id: 'uuid',
  block_start: 'bigint',
  block_end: 'bigint',
} as const satisfies ColumnMap<FiscalBlocksTable>;

/**
 * Blocks of another id that overlap these (by store and series): only possible when a series was
 * declared with two homes, which docs/fiscal.md rules out; found so that a person hears of it.
 */
export async function overlappingBlocks(
  trx: Transaction<Database>,
  blocks: { store_id: string; series_id: string; block_id: string; block_start: number; block_end: number }[],
): Promise<
  {
    store_id: string;
    series_id: string;
    block_id: string;
    other_id: string;
    node_id: string;
    other_node: string;
  }[]
> {
  if (blocks.length === 0) return [];
  const r = await sql<{
    store_id: string;
    series_id: string;
    block_id: string;
    other_id: string;
    node_id: string;
    other_node: string;
  }>`
    SELECT n.store_id, n.series_id, n.block_id, b.block_id AS other_id, n.node_id, b.node_id AS other_node
    FROM ${recordset(BLOCK_KEY_COLUMNS, blocks)}
    JOIN fiscal_blocks n ON (n.store_id, n.block_id) = (x.store_id, x.block_id)
    JOIN fiscal_blocks b ON b.store_id = n.store_id AND b.series_id = n.series_id
      AND b.block_id <> n.block_id AND b.block_start <= n.block_end AND n.block_start <= b.block_end
    ORDER BY 1, 2, 3, 4`.execute(trx);
  return r.rows;
}

/** The highest number of any block of the series (null before the first block). */
export async function highestBlockEnd(
  db: Executor,
  storeId: string,
  seriesId: string,
): Promise<number | null> {
  const r = await db
    .selectFrom('fiscal_blocks')
    .select((eb) => eb.fn.max('block_end').as('high'))
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .executeTakeFirst();
  return r?.high === null || r?.high === undefined ? null : Number(r.high);
}

/** The blocks one node owns in a series, lowest first, with the highest number it handed out of each. */
export async function ownedBlocks(
  db: Executor,
  storeId: string,
  seriesId: string,
  nodeId: string,
): Promise<{ block_id: string; block_start: number; block_end: number; handed_up_to: number | null }[]> {
  const r = await sql<{ block_id: string; block_start: string; block_end: string; handed: string | null }>`
    SELECT b.block_id, b.block_start, b.block_end,
      (SELECT max(r.range_end) FROM fiscal_sequence_ranges r
        WHERE r.store_id = b.store_id AND r.block_id = b.block_id) AS handed
    FROM fiscal_blocks b
    WHERE b.store_id = ${storeId} AND b.series_id = ${seriesId} AND b.node_id = ${nodeId}
    ORDER BY b.block_start`.execute(db);
  return r.rows.map((x) => ({
    block_id: x.block_id,
    block_start: Number(x.block_start),
    block_end: Number(x.block_end),
    handed_up_to: x.handed === null ? null : Number(x.handed),
  }));
}

export function listBlocks(db: Executor, storeId: string, seriesId: string): Promise<FiscalBlock[]> {
  return db
    .selectFrom('fiscal_blocks')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('series_id', '=', seriesId)
    .orderBy('block_start')
    .execute();
}
