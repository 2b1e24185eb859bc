import { stampEventId, stampOf } from '../../domain/crdt/lww';
import { ApiError, AppError } from '../../domain/errors';
import type {
  DebtExplanation,
  ExplainEvent,
  ProductExplanation,
  StockExplanation,
} from '../../domain/wire/store-queries';
import type { Db } from '../db';
import { fromRows } from '../projections';
import { REGISTER_TABLES } from '../projections/registers';
import type { ProjectionEvent, Trx } from '../projections/types';
import { conflictsOfEntity } from '../repositories/conflict-audit-log';
import { paymentsOfDebts } from '../repositories/debt-payments';
import { findDebt } from '../repositories/debts';
import { deviceNames } from '../repositories/devices';
import { eventMetaOf, productWrites, type EventMeta } from '../repositories/events';
import { findProduct, PRODUCT_COLUMNS } from '../repositories/products';
import { findSales } from '../repositories/sales';
import { movementsOf } from '../repositories/stock-movements';
import { stockOf } from '../repositories/warehouse-stock';

// "Why is this number what it is": the events behind a stock level, a debt's remaining amount or a
// product's fields, each with who wrote it, where it entered the federation and how it reached this
// node. Each explanation is read in one snapshot, so its parts add up to the row it explains.

const snapshot = <T>(db: Db, fn: (trx: Trx) => Promise<T>) =>
  db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);

/** "-2.000" → "-2", "10.500" → "+10.5": quantities as an operator reads them. */
function signed(decimal: string): string {
  const trimmed = decimal.includes('.') ? decimal.replace(/\.?0+$/, '') : decimal;
  return trimmed.startsWith('-') ? trimmed : `+${trimmed}`;
}

const negate = (decimal: string) => (decimal.startsWith('-') ? decimal.slice(1) : `-${decimal}`);

/** The envelopes of these events with their devices' names, as explain shows them. */
async function describe(trx: Trx, storeId: string, nodeId: string, ids: string[]) {
  const metas = await eventMetaOf(trx, storeId, [...new Set(ids)]);
  const names = await deviceNames(
    trx,
    storeId,
    [...metas.values()].map((m) => m.device_id),
  );
  const out = new Map<string, ExplainEvent & { payload: Record<string, unknown> }>();
  for (const m of metas.values()) out.set(m.event_id, { ...eventOut(m, names, nodeId), payload: m.payload });
  return out;
}

function eventOut(m: EventMeta, names: Map<string, string>, nodeId: string): ExplainEvent {
  const via =
    m.source === 'system-federation'
      ? `node ${m.source_peer ?? m.origin_node}`
      : m.source === 'admin'
        ? `admin on node ${nodeId}`
        : `node ${nodeId}`;
  return {
    event_id: m.event_id,
    type: m.type,
    device_id: m.device_id,
    device_name: names.get(m.device_id.toLowerCase()) ?? null,
    origin_node: m.origin_node,
    via,
    hlc: m.hlc.toISOString(),
    created_at: m.created_at.toISOString(),
    node_seq: Number(m.node_seq),
  };
}

/** "on POS 1 via node cloud" (and where it entered, when that is another node). */
function where(e: ExplainEvent): string {
  const entered = e.via === `node ${e.origin_node}` ? '' : ` (entered at node ${e.origin_node})`;
  return `on ${e.device_name ?? `device ${e.device_id}`} via ${e.via}${entered}`;
}

const placeholder = (eventId: string): ExplainEvent => ({
  event_id: eventId,
  type: 'unknown',
  device_id: '',
  device_name: null,
  origin_node: '',
  via: '',
  hlc: new Date(0).toISOString(),
  created_at: new Date(0).toISOString(),
  node_seq: 0,
});

export async function explainStock(
  db: Db,
  nodeId: string,
  key: { store_id: string; warehouse_id: string; product_id: string },
  limit: number,
): Promise<StockExplanation> {
  return snapshot(db, async (trx) => {
    const storeId = key.store_id;
    const quantity = await stockOf(trx, storeId, key.warehouse_id, key.product_id);
    const { shown, omitted } = await movementsOf(trx, key, limit);
    const sources = await describe(
      trx,
      storeId,
      nodeId,
      shown.map((m) => m.event_id),
    );
    // A sale line's movement and its restock by a void both carry the sale's event; the restock is
    // shown with the void that caused it (the one the sale row holds).
    const saleOf = (eventId: string) => {
      const id = sources.get(eventId)?.payload.sale_id;
      return typeof id === 'string' ? id.toLowerCase() : null;
    };
    const voidedIds = shown.filter((m) => m.kind === 'void').map((m) => saleOf(m.event_id));
    const sales = await findSales(
      trx,
      storeId,
      voidedIds.filter((id): id is string => id !== null),
    );
    const voidOf = new Map(sales.map((s) => [s.id, s.void_event_id]));
    const voids = await describe(
      trx,
      storeId,
      nodeId,
      sales.flatMap((s) => (s.void_event_id ? [s.void_event_id] : [])),
    );
    return {
      ...key,
      quantity,
      contributions: shown.map((m) => {
        const saleId = m.kind === 'sale' || m.kind === 'void' ? saleOf(m.event_id) : null;
        const voidId = m.kind === 'void' && saleId ? voidOf.get(saleId) : null;
        const { payload: _p, ...event } = (voidId ? voids.get(voidId) : undefined) ??
          sources.get(m.event_id) ?? { ...placeholder(m.event_id), payload: {} };
        const what =
          m.kind === 'sale'
            ? `from sale ${saleId}`
            : m.kind === 'void'
              ? `back from the void of sale ${saleId}`
              : m.kind === 'received'
                ? 'received'
                : m.kind === 'adjusted'
                  ? 'adjusted'
                  : 'applied as a delta';
        return {
          kind: m.kind as StockExplanation['contributions'][number]['kind'],
          qty: m.qty_delta,
          line_no: m.line_no,
          sale_id: saleId,
          occurred_at: m.occurred_at.toISOString(),
          event,
          summary: `${signed(m.qty_delta)} ${what} ${where(event)}`,
        };
      }),
      omitted,
    };
  });
}

export async function explainDebt(
  db: Db,
  nodeId: string,
  storeId: string,
  debtId: string,
): Promise<DebtExplanation> {
  return snapshot(db, async (trx) => {
    const debt = await findDebt(trx, storeId, debtId);
    if (!debt)
      throw new AppError(404, ApiError.debtNotFound, `debt_id: store ${storeId} has no debt ${debtId}`);
    const payments = await paymentsOfDebts(trx, storeId, [debtId]);
    const events = await describe(trx, storeId, nodeId, [debt.event_id, ...payments.map((p) => p.event_id)]);
    const eventOf = (id: string) => {
      const { payload: _p, ...e } = events.get(id) ?? { ...placeholder(id), payload: {} };
      return e;
    };
    const created = eventOf(debt.event_id);
    return {
      store_id: storeId,
      debt_id: debtId,
      total_amount: debt.total_amount,
      paid_amount: debt.paid_amount,
      remaining_amount: debt.remaining_amount,
      status: debt.status as DebtExplanation['status'],
      contributions: [
        {
          kind: 'debt' as const,
          amount: debt.total_amount,
          payment_id: null,
          at: debt.created_at.toISOString(),
          event: created,
          summary: `${signed(debt.total_amount)} owed ${where(created)}`,
        },
        ...payments.map((p) => {
          const event = eventOf(p.event_id);
          return {
            kind: 'payment' as const,
            amount: negate(p.amount),
            payment_id: p.id,
            at: p.paid_at.toISOString(),
            event,
            summary: `${signed(negate(p.amount))} paid (${p.payment_method}) ${where(event)}`,
          };
        }),
      ],
    };
  });
}

type ProductEvent = ProjectionEvent<'ProductCreated' | 'ProductUpdated'>;
const productSpec = REGISTER_TABLES.find((s) => s.entityType === 'product')!;
const productFieldsOf = (e: ProductEvent) =>
  (productSpec.fieldsOf as (e: ProductEvent) => Record<string, unknown>)(e);

export async function explainProduct(
  db: Db,
  nodeId: string,
  storeId: string,
  productId: string,
): Promise<ProductExplanation> {
  return snapshot(db, async (trx) => {
    const product = await findProduct(trx, storeId, productId);
    if (!product) {
      throw new AppError(
        404,
        ApiError.productNotFound,
        `product_id: store ${storeId} has no product ${productId}`,
      );
    }
    // Payloads that no longer validate never reached the row either: they explain nothing.
    const writes = fromRows(await productWrites(trx, storeId, productId)).events as ProductEvent[];
    const events = await describe(
      trx,
      storeId,
      nodeId,
      writes.map((w) => w.event_id),
    );
    const audit = await conflictsOfEntity(trx, storeId, 'product', productId);
    const stamped = writes
      .map((e) => ({ e, stamp: stampOf(e), fields: productFieldsOf(e) }))
      .sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
    const row = product as unknown as Record<string, unknown>;
    const fields = Object.keys(PRODUCT_COLUMNS).map((field) => {
      const concurrentLosers = new Set(
        audit
          .filter((a) => (a.field ?? '').split(',').includes(field))
          .flatMap((a) => a.loser_event_ids.map((id) => id.toLowerCase())),
      );
      const writesOf = stamped
        .filter((w) => w.fields[field] !== undefined)
        .map((w) => {
          const { payload: _p, ...event } = events.get(w.e.event_id) ?? {
            ...placeholder(w.e.event_id),
            payload: {},
          };
          return {
            value: w.fields[field],
            stamp: w.stamp,
            concurrent: concurrentLosers.has(w.e.event_id.toLowerCase()),
            event,
          };
        });
      const held = product.field_stamps[field];
      const winner = writesOf.find((w) => w.stamp === held) ?? null;
      const losers = writesOf.filter((w) => w !== winner);
      const lost = losers.length === 0 ? '' : `; ${losers.length} write(s) lost`;
      const concurrent = losers.filter((l) => l.concurrent).length;
      return {
        field,
        value: row[field] ?? null,
        winner: winner ? { ...winner, concurrent: false } : null,
        losers,
        summary: winner
          ? `${field} = ${JSON.stringify(row[field])} set by ${winner.event.type} ${where(winner.event)} at ${
              winner.event.hlc
            }${lost}${concurrent > 0 ? ` (${concurrent} concurrent, in the conflict audit)` : ''}`
          : held
            ? `${field} set by event ${stampEventId(held)}, whose payload no longer reads`
            : `${field} never written`,
      };
    });
    return {
      store_id: storeId,
      product_id: productId,
      fields,
      conflicts: audit.map((a) => ({
        id: String(a.id),
        field: a.field,
        strategy: a.strategy,
        winner_event_id: a.winner_event_id,
        loser_event_ids: a.loser_event_ids,
        resolved_at: a.resolved_at.toISOString(),
      })),
    };
  });
}
