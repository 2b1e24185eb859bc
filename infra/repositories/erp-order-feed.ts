import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

// The order producer's cursor over the POS event log (erp_order_feed): the log is the outbox
// (docs/architecture.md §2), so a sale becomes an ERP order by reading it past this cursor.

export interface MappedSale {
  node_seq: string;
  event_id: string;
  store_id: string;
  vendor_id: string;
  payload: Record<string, unknown>;
  created_at: string;
}

/**
 * Locks the feed's cursor for one producer pass; undefined while another pass (another API process
 * or the sweep) holds it. That pass does not necessarily read the sales this caller came for: its
 * snapshot may predate their commit, so the caller has to try again once the lock is free.
 */
export async function lockFeedCursor(trx: Transaction<Database>, name: string): Promise<number | undefined> {
  const row = await trx
    .selectFrom('erp_order_feed')
    .select('node_seq')
    .where('name', '=', name)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  return row ? Number(row.node_seq) : undefined;
}

export async function advanceFeedCursor(trx: Transaction<Database>, name: string, nodeSeq: number) {
  await trx
    .updateTable('erp_order_feed')
    .set({ node_seq: nodeSeq, updated_at: new Date() })
    .where('name', '=', name)
    .execute();
}

/**
 * The SaleCreated events past the cursor of stores mapped to a vendor (received since the mapping
 * was made), in log order, and how far the cursor may move: to the last sale read when the page is
 * full, else to the head of the log. One statement, so both come from one snapshot: node_seq is
 * handed out in commit order (infra/eventlog/ingest.ts), so nothing below the head can commit later.
 */
export async function readMappedSales(
  trx: Transaction<Database>,
  after: number,
  limit: number,
): Promise<{ sales: MappedSale[]; next: number }> {
  const r = await sql<{ sales: MappedSale[]; head: string | null }>`
    WITH s AS (
      SELECT e.node_seq::text AS node_seq, e.event_id, e.store_id, m.vendor_id, e.payload,
             e.created_at
      FROM events e
      JOIN erp_store_vendors m ON m.store_id = e.store_id
      WHERE e.node_seq > ${after} AND e.type = 'SaleCreated' AND e.received_at >= m.created_at
      ORDER BY e.node_seq
      LIMIT ${limit}
    )
    SELECT (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.node_seq::bigint), '[]'::jsonb) FROM s) AS sales,
           (SELECT max(node_seq)::text FROM events) AS head`.execute(trx);
  const row = r.rows[0]!;
  const sales = row.sales;
  const next =
    sales.length >= limit
      ? Number(sales[sales.length - 1]!.node_seq)
      : Math.max(after, Number(row.head ?? 0));
  return { sales, next };
}
