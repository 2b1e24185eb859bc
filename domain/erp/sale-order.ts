// What an ERP order made from a POS sale says (the seed's REQ-6: OrderCreated → createOrderJob). The
// sale's lines go as they were sold; the store and sale ids let the ERP side trace the order back.

import { idSchema } from '../events/schemas';

/**
 * The Idempotency-Key of a sale's order: the same on every node and for every job of the order, so
 * an agent never creates one sale twice (two nodes that both map the store, a DLQ retry).
 */
export const saleIdempotencyKey = (storeId: string, saleId: string): string =>
  `pos-sale:${storeId}:${saleId}`;

export interface SaleOrder {
  saleId: string;
  payload: Record<string, unknown>;
}

/**
 * The order for one SaleCreated payload, or null when the payload cannot be one (no sale id or no
 * lines: the log validated it at ingest, so this only guards the producer against a stalled feed).
 */
export function saleOrderOf(sale: {
  store_id: string;
  event_id: string;
  created_at: string;
  payload: Record<string, unknown>;
}): SaleOrder | null {
  const p = sale.payload;
  const saleId = typeof p.sale_id === 'string' ? p.sale_id.toLowerCase() : null;
  if (!saleId || !idSchema.safeParse(saleId).success || !Array.isArray(p.items) || p.items.length === 0)
    return null;
  const total = p.total ?? p.total_amount ?? null;
  return {
    saleId,
    payload: {
      source: 'pos',
      storeId: sale.store_id,
      saleId,
      eventId: sale.event_id,
      soldAt: sale.created_at,
      warehouseId: p.warehouse_id ?? null,
      customerId: p.customer_id ?? null,
      total,
      lines: p.items,
    },
  };
}
