import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, EscrowRightsMovesTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Escrow rights handed from one node to another (EscrowRightsMoved): the transfers of the bounded
// counter (docs/escrow.md).

type Executor = Db | Transaction<Database>;

export const ESCROW_RIGHTS_MOVE_COLUMNS = {
  store_id: 'uuid',
  move_id: 'uuid',
  event_id: 'uuid',
  product_id: 'uuid',
  from_node: 'text',
  to_node: 'text',
  qty: 'numeric',
} as const satisfies ColumnMap<EscrowRightsMovesTable>;

export type EscrowRightsMoveRow = { [K in keyof typeof ESCROW_RIGHTS_MOVE_COLUMNS]: unknown };

/** CTE body: stores the moves; a move id claimed twice keeps the smaller event id's. */
export function insertRightsMovesSql(rows: EscrowRightsMoveRow[]) {
  const cols = columnList(ESCROW_RIGHTS_MOVE_COLUMNS);
  return sql`
    INSERT INTO escrow_rights_moves (${cols})
    SELECT ${cols} FROM ${recordset(ESCROW_RIGHTS_MOVE_COLUMNS, rows)}
    ON CONFLICT (store_id, move_id) DO UPDATE
      SET event_id = excluded.event_id, product_id = excluded.product_id, from_node = excluded.from_node,
        to_node = excluded.to_node, qty = excluded.qty
    WHERE excluded.event_id < escrow_rights_moves.event_id`;
}

/** Rights of a product moved to and away from one node. */
export async function movedRights(
  db: Executor,
  storeId: string,
  productId: string,
  nodeId: string,
): Promise<{ in: number; out: number }> {
  const r = await sql<{ in: string; out: string }>`
    SELECT coalesce(sum(qty) FILTER (WHERE to_node = ${nodeId}), 0)::text AS in,
      coalesce(sum(qty) FILTER (WHERE from_node = ${nodeId}), 0)::text AS out
    FROM escrow_rights_moves WHERE store_id = ${storeId} AND product_id = ${productId}`.execute(db);
  return { in: Number(r.rows[0]!.in), out: Number(r.rows[0]!.out) };
}
