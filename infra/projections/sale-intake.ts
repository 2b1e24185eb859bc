import { sql } from 'kysely';
import type { Db } from '../db';
import type { Log } from '../log';
import { raiseAlerts } from '../repositories/alerts';
import {
  openQuotasFor,
  openQuotasOf,
  openQuotasSql,
  type OpenQuota,
  type QuotaKey,
} from '../repositories/escrow-quotas';
import { productInfo } from '../repositories/products';
import { stockLevelsSql, type StockLevel } from '../repositories/warehouse-stock';
import type { NodeEventDraft } from '../eventlog/node-events';
import { warehouseOf } from './stock';
import { lockEntities, type Oversold, type ProjectionEvent, type ProjectionSink, type Trx } from './types';

export type { Oversold } from './types';

// What a node does with new sales besides projecting them (docs/escrow.md), inside the push
// transaction: consume the quotas it granted to the selling device, and the soft stock check.

export const OVERSELLING_DETECTED = 'OVERSELLING_DETECTED';

/** One alert per product and warehouse within the window, whichever check (ingest or detector) found it. */
export const oversellDedupKey = (storeId: string, warehouseId: string, productId: string) =>
  `${OVERSELLING_DETECTED}:${storeId}:${warehouseId}:${productId}`;

/** The escrow lock of a product: grants, consumptions, releases and rights moves of it are serialised. */
export const escrowLockKey = (storeId: string, productId: string) => `${storeId}:${productId}`;

const round3 = (n: number) => Math.round(n * 1000) / 1000;

type Sale = ProjectionEvent<'SaleCreated'>;
type OpenQuotaJson = Omit<OpenQuota, 'remaining'> & { remaining: string };

/**
 * Both steps for a push's new sales (`checked`: those not relayed by a peer). One statement reads the
 * open quotas of the sales' devices and the stock the checked lines take from; each step goes on
 * only if it has something to do, so a push without escrow or overselling costs that one statement.
 * Returns the EscrowConsumed events to append.
 */
export async function intakeSales(
  trx: Trx,
  nodeId: string,
  sales: Sale[],
  checked: Sale[],
  sink: ProjectionSink,
): Promise<NodeEventDraft[]> {
  if (sales.length === 0) return [];
  const keys = quotaKeysOf(sales);
  const touched = touchedBy(checked);
  const stockSql = touched.size > 0 ? stockLevelsSql([...touched.values()]) : sql`SELECT NULL WHERE false`;
  const r = await sql<{ quotas: OpenQuotaJson[]; stock: StockLevel[] }>`
    WITH q AS (${openQuotasSql(nodeId, keys)}), s AS (${stockSql})
    SELECT (SELECT coalesce(json_agg(q), '[]'::json) FROM q) AS quotas,
      (SELECT coalesce(json_agg(s), '[]'::json) FROM s) AS stock`.execute(trx);
  const { quotas, stock } = r.rows[0]!;
  const drafts = openQuotasOf(quotas).length > 0 ? await consumeQuotas(trx, nodeId, sales, keys) : [];
  if (touched.size > 0) checkStock(touched, stock, sink);
  return drafts;
}

function quotaKeysOf(sales: Sale[]): QuotaKey[] {
  const keys = new Map<string, QuotaKey>();
  for (const e of sales) {
    const device_id = e.device_id.toLowerCase();
    for (const item of e.payload.items) {
      keys.set(`${e.store_id}|${device_id}|${item.product_id}`, {
        store_id: e.store_id,
        device_id,
        product_id: item.product_id,
      });
    }
  }
  return [...keys.values()];
}

/**
 * The quotas this node granted to a sale's device are consumed by the sale's lines, soonest expiry
 * first, up to what each has left; the decision is an EscrowConsumed event (returned, for the
 * caller to append), so peers account for it without deciding it again. Only the granting node
 * consumes its quotas — whether the sale reached it from the device or from a peer — and never
 * after it released them, so consumed + released never exceeds what was granted. Serialised with
 * grants and releases by the products' escrow locks, taken only when the device holds a quota of
 * this node (a push without escrow takes none).
 */
async function consumeQuotas(
  trx: Trx,
  nodeId: string,
  sales: Sale[],
  keys: QuotaKey[],
): Promise<NodeEventDraft[]> {
  await lockEntities(
    trx,
    'escrow',
    [...new Set(keys.map((k) => escrowLockKey(k.store_id, k.product_id)))].sort(),
  );
  // Read again under the locks: a grant or a release may have committed since the first read.
  const open = await openQuotasFor(trx, nodeId, keys);
  const byKey = new Map<string, OpenQuota[]>();
  for (const q of open) {
    const k = `${q.store_id}|${q.device_id}|${q.product_id}`;
    byKey.set(k, [...(byKey.get(k) ?? []), q]);
  }
  const ordered = [...sales].sort(
    (a, b) => a.hlc.getTime() - b.hlc.getTime() || (a.event_id < b.event_id ? -1 : 1),
  );
  const drafts: NodeEventDraft[] = [];
  for (const sale of ordered) {
    const device = sale.device_id.toLowerCase();
    const taken: { grant_id: string; line_no: number; product_id: string; qty: number }[] = [];
    sale.payload.items.forEach((item, i) => {
      let want = item.qty;
      for (const q of byKey.get(`${sale.store_id}|${device}|${item.product_id}`) ?? []) {
        if (want <= 0) break;
        const qty = round3(Math.min(want, q.remaining));
        if (qty <= 0) continue;
        q.remaining = round3(q.remaining - qty);
        want = round3(want - qty);
        taken.push({ grant_id: q.grant_id, line_no: i + 1, product_id: item.product_id, qty });
      }
    });
    if (taken.length === 0) continue;
    drafts.push({
      store_id: sale.store_id,
      type: 'EscrowConsumed',
      payload: {
        node_id: nodeId,
        device_id: device,
        sale_id: sale.payload.sale_id,
        sale_event_id: sale.event_id,
        lines: taken,
      },
    });
  }
  return drafts;
}

/** The (store, warehouse, product) rows the sales' lines take stock from, with their sales. */
function touchedBy(sales: Sale[]): Map<string, Oversold> {
  const touched = new Map<string, Oversold>();
  for (const e of sales) {
    for (const item of e.payload.items) {
      const w = warehouseOf(e, e.payload.warehouse_id);
      const k = `${e.store_id}|${w}|${item.product_id}`;
      const o = touched.get(k) ?? {
        store_id: e.store_id,
        warehouse_id: w,
        product_id: item.product_id,
        stock_after: 0,
        sale_event_ids: [],
      };
      if (!o.sale_event_ids.includes(e.event_id)) o.sale_event_ids.push(e.event_id);
      touched.set(k, o);
    }
  }
  return touched;
}

/**
 * The soft stock check (seed 003, deliverable 13): the stock each sale line leaves — the committed
 * level plus this batch's movements not yet applied (`sink.stock`). Below zero is overselling: left
 * in `sink.oversold`, logged and raised as an OVERSELLING_DETECTED alert after the commit
 * (`alertOversold`), and the sale stays — a sale is never refused. The alert is raised outside the
 * push transaction so its per-key lock and row update never hold the log's append order; if the node
 * dies between the commit and the alert, the oversell detector raises it within minutes. Only sales
 * that did not come from a peer are checked: the peer's node checked them where they entered.
 * Concurrent pushes do not see each other's uncommitted sales; the detector catches those too.
 */
function checkStock(touched: Map<string, Oversold>, levels: StockLevel[], sink: ProjectionSink): void {
  for (const d of sink.stock) {
    const o = touched.get(`${d.store_id}|${d.warehouse_id}|${d.product_id}`);
    if (o) o.stock_after += Number(d.qty);
  }
  for (const level of levels) {
    const o = touched.get(`${level.store_id}|${level.warehouse_id}|${level.product_id}`);
    if (o) o.stock_after += Number(level.stock);
  }
  for (const o of touched.values()) {
    const stock_after = round3(o.stock_after);
    if (stock_after < 0) sink.oversold.push({ ...o, stock_after });
  }
}

/**
 * Raises the alerts of what a committed push oversold, in one short transaction (each folds into the
 * open alert of its product and warehouse within the hour). Never throws: the sales are committed
 * whatever happens here, and the oversell detector finds what an alert failure missed.
 */
export async function alertOversold(db: Db, oversold: Oversold[], log: Log): Promise<void> {
  try {
    const names = new Map<string, string | null>();
    for (const storeId of new Set(oversold.map((o) => o.store_id))) {
      const ids = [...new Set(oversold.filter((o) => o.store_id === storeId).map((o) => o.product_id))];
      for (const [id, info] of await productInfo(db, storeId, ids)) names.set(`${storeId}|${id}`, info.name);
    }
    const alerts = oversold.map((o) => {
      const name = names.get(`${o.store_id}|${o.product_id}`) ?? null;
      const product = name ? `${name} (${o.product_id})` : o.product_id;
      log.warn({ ...o, product_name: name }, 'overselling detected: sale accepted, stock below zero');
      return {
        type: OVERSELLING_DETECTED,
        severity: 'P2' as const,
        store_id: o.store_id,
        subject: `product ${product} oversold: stock ${o.stock_after} in warehouse ${o.warehouse_id}`,
        payload: { ...o, product_name: name, detected_by: 'ingest' },
        dedup_key: oversellDedupKey(o.store_id, o.warehouse_id, o.product_id),
      };
    });
    await raiseAlerts(db, alerts);
  } catch (err) {
    log.error(
      { err, oversold: oversold.length },
      'oversell alerts not raised; the oversell detector will raise them',
    );
  }
}
