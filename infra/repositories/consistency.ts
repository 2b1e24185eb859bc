import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import { storeTotalsSql } from './stock-movement-totals';

// Read-only checks that compare one store's tables with each other (the event log with its
// projections, stock with its movements): what the health report measures. Each query is bounded
// to one store and names the rows an operator needs; every table keeps its own writes in its own
// repository module.

type Executor = Db | Transaction<Database>;

export interface ProjectionGaps {
  sales: number;
  debts: number;
  debtPayments: number;
  sessions: number;
  /** Events whose projection failed or has not run yet (the orphan healer's work). */
  unprojected: number;
  /**
   * Those of them of the other types (a ProductUpdated whose projection keeps failing): not seen by
   * the probes above, which look for a missing row, so counted as gaps on their own.
   */
  unprojectedOther: number;
  /** A few of the events behind the counts, oldest first. */
  examples: { event_id: string; type: string; device_id: string; received_at: Date }[];
}

/**
 * How many of the store's latest events the live gap check looks at (by node_seq, newest first). The
 * health endpoint must stay cheap on a log of millions, and each event costs one index probe (about
 * 10 µs on a busy 2-core machine: docs/benchmarks.md); 2,000 events are more than one monitor interval
 * (5 min) of a busy shop, so a projection that goes wrong at ingest is seen at the next tick. Older rows removed behind the node's back are found by
 * the daily projection self-check, which rebuilds the whole log (docs/health.md). Events whose
 * projection failed are counted whatever their age (`unprojected`; those of types the probes do not
 * cover are gaps too, `unprojectedOther`).
 */
export const GAP_WINDOW_EVENTS = 2_000;

/** The event types whose read-model row the gap check probes. */
const PROBED_TYPES = [
  'SaleCreated',
  'DebtCreated',
  'DebtPaymentRecorded',
  'DebtPaymentAdded',
  'CashSessionOpened',
];

/** Events of the store that their read model does not show, among its latest GAP_WINDOW_EVENTS. */
export async function projectionGaps(
  db: Executor,
  storeId: string,
  window = GAP_WINDOW_EVENTS,
): Promise<ProjectionGaps> {
  // Each event's entity id from its payload (ids are validated uuids), probed against the read model's
  // primary key: the entity is in the read model, whichever of its events put it there. One index
  // probe per recent event; an anti-join on event_id would read every row of the store's sales.
  const gaps = sql`
    WITH recent AS (
      SELECT event_id, store_id, type, device_id, received_at,
        (CASE type WHEN 'SaleCreated' THEN payload->>'sale_id' WHEN 'DebtCreated' THEN payload->>'debt_id'
          WHEN 'DebtPaymentRecorded' THEN payload->>'payment_id' WHEN 'DebtPaymentAdded' THEN payload->>'payment_id'
          WHEN 'CashSessionOpened' THEN payload->>'session_id' END)::uuid AS entity_id
      FROM events WHERE store_id = ${storeId} ORDER BY node_seq DESC LIMIT ${window})
    SELECT e.event_id, e.type, e.device_id, e.received_at FROM recent e
    WHERE e.type = 'SaleCreated'
      AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.store_id = e.store_id AND s.id = e.entity_id)
    UNION ALL
    SELECT e.event_id, e.type, e.device_id, e.received_at FROM recent e
    WHERE e.type = 'DebtCreated'
      AND NOT EXISTS (SELECT 1 FROM debts d WHERE d.store_id = e.store_id AND d.id = e.entity_id)
    UNION ALL
    SELECT e.event_id, e.type, e.device_id, e.received_at FROM recent e
    WHERE e.type IN ('DebtPaymentRecorded', 'DebtPaymentAdded')
      AND NOT EXISTS (SELECT 1 FROM debt_payments p WHERE p.store_id = e.store_id AND p.id = e.entity_id)
    UNION ALL
    SELECT e.event_id, e.type, e.device_id, e.received_at FROM recent e
    WHERE e.type = 'CashSessionOpened'
      AND NOT EXISTS (SELECT 1 FROM cash_sessions c WHERE c.store_id = e.store_id AND c.id = e.entity_id)`;
  const [rows, unprojected] = await Promise.all([
    sql<ProjectionGaps['examples'][number]>`SELECT * FROM (${gaps}) g ORDER BY received_at`.execute(db),
    sql<{ n: string; other: string }>`
      SELECT count(*) AS n, count(*) FILTER (WHERE type NOT IN (${sql.join(PROBED_TYPES)})) AS other
      FROM events WHERE store_id = ${storeId} AND projection_status <> 'processed'`.execute(db),
  ]);
  const n = (...types: string[]) => rows.rows.filter((r) => types.includes(r.type)).length;
  return {
    sales: n('SaleCreated'),
    debts: n('DebtCreated'),
    debtPayments: n('DebtPaymentRecorded', 'DebtPaymentAdded'),
    sessions: n('CashSessionOpened'),
    unprojected: Number(unprojected.rows[0]!.n),
    unprojectedOther: Number(unprojected.rows[0]!.other),
    examples: rows.rows.slice(0, 10),
  };
}

export interface StockCheck {
  /** Product and warehouse pairs whose stock is not the sum of their movements. */
  divergent: { product_id: string; warehouse_id: string; stock: string; movements: string }[];
  /** Pairs below zero, most negative first. */
  negative: { product_id: string; warehouse_id: string; stock: string }[];
}

const STOCK_EXAMPLES = 50;

/**
 * Stock against the sum of its movements, and stock below zero, for one store. The sums are
 * stock_movement_totals, kept by triggers on stock_movements (migration 20261203_0011), so the check
 * reads one row per pair whatever the number of movements; `movementTotalsCheck` sums the movements
 * themselves for the daily self-check.
 */
export async function stockCheck(
  db: Executor,
  storeId: string,
): Promise<StockCheck & { divergentCount: number; negativeCount: number }> {
  const [divergent, negative] = await Promise.all([
    sql<StockCheck['divergent'][number] & { total: string }>`
      WITH m AS (SELECT warehouse_id, product_id, qty AS movements FROM (${storeTotalsSql(storeId)}) t)
      SELECT coalesce(w.product_id, m.product_id)::text AS product_id,
             coalesce(w.warehouse_id, m.warehouse_id)::text AS warehouse_id,
             coalesce(w.stock, 0)::text AS stock, coalesce(m.movements, 0)::text AS movements,
             count(*) OVER ()::text AS total
      FROM (SELECT * FROM warehouse_stock WHERE store_id = ${storeId}) w
      FULL JOIN m ON m.warehouse_id = w.warehouse_id AND m.product_id = w.product_id
      WHERE coalesce(w.stock, 0) <> coalesce(m.movements, 0)
      ORDER BY 1, 2 LIMIT ${STOCK_EXAMPLES}`.execute(db),
    sql<StockCheck['negative'][number] & { total: string }>`
      SELECT product_id::text, warehouse_id::text, stock::text, count(*) OVER ()::text AS total
      FROM warehouse_stock WHERE store_id = ${storeId} AND stock < 0
      ORDER BY stock, product_id LIMIT ${STOCK_EXAMPLES}`.execute(db),
  ]);
  const strip = <T extends { total: string }>(rows: T[]) => rows.map(({ total: _t, ...r }) => r);
  return {
    divergent: strip(divergent.rows),
    negative: strip(negative.rows),
    divergentCount: Number(divergent.rows[0]?.total ?? 0),
    negativeCount: Number(negative.rows[0]?.total ?? 0),
  };
}

/**
 * Pairs whose stored movement total is not the sum of their movements: writes the triggers did not
 * see (triggers disabled, a TRUNCATE, the totals edited). Reads every movement of the store, so it
 * runs in the projection self-check, not in the health report.
 */
export async function movementTotalsCheck(
  db: Executor,
  storeId: string,
  limit = STOCK_EXAMPLES,
): Promise<{
  rows: { warehouse_id: string; product_id: string; total: string; movements: string }[];
  count: number;
}> {
  const r = await sql<{
    warehouse_id: string;
    product_id: string;
    total: string;
    movements: string;
    n: string;
  }>`
    WITH m AS (
      SELECT warehouse_id, product_id, sum(qty_delta) AS qty, count(*) AS n FROM stock_movements
      WHERE store_id = ${storeId} GROUP BY warehouse_id, product_id),
    t AS (${storeTotalsSql(storeId)})
    SELECT coalesce(t.warehouse_id, m.warehouse_id)::text AS warehouse_id,
           coalesce(t.product_id, m.product_id)::text AS product_id,
           coalesce(t.qty, 0)::text AS total, coalesce(m.qty, 0)::text AS movements,
           count(*) OVER ()::text AS n
    FROM t FULL JOIN m ON m.warehouse_id = t.warehouse_id AND m.product_id = t.product_id
    WHERE coalesce(t.qty, 0) <> coalesce(m.qty, 0) OR coalesce(t.movements, 0) <> coalesce(m.n, 0)
    ORDER BY 1, 2 LIMIT ${limit}`.execute(db);
  return { rows: r.rows.map(({ n: _n, ...x }) => x), count: Number(r.rows[0]?.n ?? 0) };
}

export interface ConflictCounts {
  lastHour: number;
  last24h: number;
  byStrategy: Record<string, number>;
}

/** Conflict audit rows of the store: the last hour (the rate metric) and the last day by strategy. */
export async function conflictCounts(db: Executor, storeId: string): Promise<ConflictCounts> {
  const rows = await sql<{ strategy: string; day: string; hour: string }>`
    SELECT strategy, count(*) AS day, count(*) FILTER (WHERE resolved_at > now() - interval '1 hour') AS hour
    FROM conflict_audit_log
    WHERE store_id = ${storeId} AND resolved_at > now() - interval '24 hours'
    GROUP BY strategy`.execute(db);
  const byStrategy: Record<string, number> = {};
  let lastHour = 0;
  let last24h = 0;
  for (const r of rows.rows) {
    byStrategy[r.strategy] = Number(r.day);
    last24h += Number(r.day);
    lastHour += Number(r.hour);
  }
  return { lastHour, last24h, byStrategy };
}

export interface Unrelayed {
  device_id: string;
  type: string;
  count: number;
  oldest_received_at: Date;
}

/**
 * Events of the store committed after a relay's cursor (not yet on that peer), by device and type:
 * "7 sales from POS 2 (oldest 14 min) are not yet on node cloud". Events that came from the peer
 * itself are not owed to it.
 */
export async function unrelayedEvents(
  db: Executor,
  storeId: string,
  peerId: string,
  cursor: number,
): Promise<Unrelayed[]> {
  const r = await sql<{ device_id: string; type: string; n: string; oldest: Date }>`
    SELECT device_id, type, count(*) AS n, min(received_at) AS oldest FROM events
    WHERE store_id = ${storeId} AND node_seq > ${cursor} AND source_peer IS DISTINCT FROM ${peerId}
    GROUP BY device_id, type ORDER BY min(received_at) LIMIT 100`.execute(db);
  return r.rows.map((x) => ({
    device_id: x.device_id,
    type: x.type,
    count: Number(x.n),
    oldest_received_at: x.oldest,
  }));
}

export interface FiscalDuplicate {
  invoice_series_id: string;
  fiscal_number: string;
  sale_ids: string[];
}

/**
 * Fiscal numbers that more than one sale of the store carries in the same series, from the numbers
 * the fiscal projection records for every numbered sale (infra/projections/fiscal.ts).
 */
export async function fiscalDuplicates(
  db: Executor,
  storeId: string,
): Promise<{ count: number; examples: FiscalDuplicate[] }> {
  const r = await sql<FiscalDuplicate & { total: string }>`
    SELECT series_id::text AS invoice_series_id, fiscal_number::text,
           array_agg(DISTINCT sale_id::text) AS sale_ids, count(*) OVER ()::text AS total
    FROM fiscal_numbers
    WHERE store_id = ${storeId}
    GROUP BY series_id, fiscal_number HAVING count(DISTINCT sale_id) > 1
    ORDER BY 1, 2 LIMIT 50`.execute(db);
  return {
    count: Number(r.rows[0]?.total ?? 0),
    examples: r.rows.map(({ total: _t, ...x }) => x),
  };
}
