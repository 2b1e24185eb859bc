import { z } from 'zod';

// The event contract: one schema per event type, shared by the push route (validation and
// OpenAPI), the projections, the relay and the PWA client. Payload objects are "loose": fields we
// do not know are kept, because the payload hash covers exactly what the device sent.

// Ids are compared as text in projections, locks and digests: one spelling per id, whatever case a
// device writes (the payload hash is taken over the normalised payload, like the aliases).
export const idSchema = z.guid().toLowerCase();
const id = idSchema;
const text = (max = 500) => z.string().max(max);
/** Money: two decimals, inside numeric(16,2). */
const money = z.number().finite().min(-1e13).max(1e13);
const positiveMoney = money.positive();
/** Quantities: inside numeric(16,3). */
const quantity = z.number().finite().min(-1e12).max(1e12);
/**
 * ISO date-time with offset, in years 0001-9999: what both JavaScript and PostgreSQL read the same way
 * (PostgreSQL refuses year 0000, and later years would not sort as text in a stamp).
 */
const timestamp = z.iso.datetime({ offset: true }).refine(inStorableYears, {
  message: 'must be a date-time in years 0001-9999',
});
/** The same date-time rule, for requests that carry one outside an event (fiscal series). */
export const timestampSchema = timestamp;
function inStorableYears(s: string): boolean {
  const t = Date.parse(s);
  return Number.isFinite(t) && t >= Date.UTC(1, 0, 1) && t < Date.UTC(10000, 0, 1) - 14 * 3_600_000;
}
/** A plain date, in the same years. */
const date = z.iso.date().refine((s) => inStorableYears(`${s}T12:00:00Z`), {
  message: 'must be a date in years 0001-9999',
});

const fiscalNumber = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const saleItem = z.looseObject({
  product_id: id,
  qty: quantity.positive(),
  unit_price: money.nonnegative(),
});

const aliasPresent =
  (...keys: string[]) =>
  (p: Record<string, unknown>) =>
    keys.some((k) => p[k] !== undefined);

const productCreated = z.looseObject({
  product_id: id,
  name: text(300).min(1),
  sku: text(100).nullish(),
  barcode: text(100).nullish(),
  price: money.nonnegative(),
  cost: money.nonnegative().nullish(),
  category: text(200).nullish(),
  unit: text(50).nullish(),
  track_inventory: z.boolean().optional(),
  active: z.boolean().optional(),
});

const customerCreated = z.looseObject({
  customer_id: id,
  name: text(300).min(1),
  document_id: text(100).nullish(),
  phone: text(100).nullish(),
  email: text(300).nullish(),
  address: text(1000).nullish(),
  credit_limit: money.nonnegative().nullish(),
  notes: text(2000).nullish(),
  active: z.boolean().optional(),
});

// Escrow events are made by nodes, never by devices (docs/escrow.md): `node_id` is the node whose
// rights they spend or give back, so every node computes every node's rights from the same events.
const nodeId = z.string().min(1).max(100);
const deviceRef = z.string().min(1).max(100).toLowerCase();
const escrowQty = quantity.positive();

export const payloadSchemas = {
  SaleCreated: z.looseObject({
    sale_id: id,
    items: z.array(saleItem).min(1).max(1000),
    total: money.nonnegative().optional(),
    total_amount: money.nonnegative().optional(),
    warehouse_id: id.optional(),
    customer_id: id.nullish(),
    session_id: id.nullish(),
    payment_method: text(50).nullish(),
    invoice_series_id: id.nullish(),
    fiscal_number: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish(),
  }),
  SaleVoided: z.looseObject({
    sale_id: id,
    reason: text().nullish(),
    voided_at: timestamp.optional(),
  }),
  StockReceived: z.looseObject({
    product_id: id,
    warehouse_id: id.optional(),
    qty: quantity.positive(),
    unit_cost: money.nonnegative().nullish(),
    reason: text().nullish(),
  }),
  StockAdjusted: z.looseObject({
    product_id: id,
    warehouse_id: id.optional(),
    qty_delta: quantity,
    reason: text().nullish(),
  }),
  StockDeltaApplied: z.looseObject({
    product_id: id,
    warehouse_id: id.optional(),
    qty_delta: quantity,
    reason: text().nullish(),
  }),
  DebtCreated: z
    .looseObject({
      debt_id: id,
      customer_id: id.nullish(),
      sale_id: id.nullish(),
      amount: positiveMoney.optional(),
      total_amount: positiveMoney.optional(),
      notes: text(2000).nullish(),
      note: text(2000).nullish(),
      due_date: date.nullish(),
    })
    .refine(aliasPresent('amount', 'total_amount'), {
      message: 'amount (or total_amount) is required',
      path: ['amount'],
    }),
  DebtPaymentRecorded: debtPayment(),
  DebtPaymentAdded: debtPayment(),
  ProductCreated: productCreated,
  // An update writes any subset of the fields a create sets (last writer wins per field).
  ProductUpdated: productCreated.partial().required({ product_id: true }),
  CustomerCreated: customerCreated,
  // An update writes any subset of the fields a create sets (last writer wins per field).
  CustomerUpdated: customerCreated.partial().required({ customer_id: true }),
  CashSessionOpened: z.looseObject({
    session_id: id,
    opening_amount: money.nonnegative(),
    opened_at: timestamp.optional(),
  }),
  CashSessionClosed: z.looseObject({
    session_id: id,
    closing_amount: money.nonnegative(),
    expected_amount: money.nullish(),
    closed_at: timestamp.optional(),
    notes: text(2000).nullish(),
  }),
  CashLedgerEntryCreated: z.looseObject({
    entry_id: id,
    session_id: id.nullish(),
    kind: z.enum(['in', 'out']),
    amount: positiveMoney,
    reason: text().nullish(),
  }),
  EscrowGranted: z.looseObject({
    grant_id: id,
    node_id: nodeId,
    device_id: deviceRef,
    product_id: id,
    qty: escrowQty,
    expires_at: timestamp,
  }),
  EscrowConsumed: z.looseObject({
    node_id: nodeId,
    device_id: deviceRef,
    sale_id: id,
    sale_event_id: id,
    lines: z
      .array(
        z.looseObject({ grant_id: id, line_no: z.number().int().positive(), product_id: id, qty: escrowQty }),
      )
      .min(1)
      .max(1000),
  }),
  EscrowReleased: z.looseObject({
    grant_id: id,
    node_id: nodeId,
    product_id: id,
    qty_released: quantity.nonnegative(),
    qty_consumed: quantity.nonnegative().optional(),
  }),
  EscrowRightsMoved: z.looseObject({
    move_id: id,
    product_id: id,
    from_node: nodeId,
    to_node: nodeId,
    qty: escrowQty,
  }),
  // Node-made fiscal events (docs/fiscal.md): made by the node that decides, relayed like any other,
  // so every node knows every series, block and range. Devices and admins may not push them.
  FiscalSeriesDeclared: z.looseObject({
    series_id: id,
    prefix: text(20),
    first_number: fiscalNumber,
    last_number: fiscalNumber.nullable(),
    valid_until: timestamp.nullable(),
    home_node: text(100).min(1),
    implicit: z.boolean(),
  }),
  FiscalBlockGranted: z.looseObject({
    block_id: id,
    series_id: id,
    node_id: text(100).min(1),
    block_start: fiscalNumber,
    block_end: fiscalNumber,
    granted_by: text(100).min(1),
  }),
  FiscalRangeGranted: z.looseObject({
    range_id: id,
    series_id: id,
    device_id: text(100).min(1),
    node_id: text(100).min(1),
    block_id: id,
    range_start: fiscalNumber,
    range_end: fiscalNumber,
    expires_at: timestamp,
  }),
  FiscalRangeClosed: z.looseObject({
    range_id: id,
    series_id: id,
    device_id: text(100).min(1),
    status: z.enum(['exhausted', 'expired']),
  }),
} as const;

/** Event types only a node makes: refused from devices and admins (a device cannot grant itself numbers). */
export const NODE_MADE_TYPES: ReadonlySet<string> = new Set([
  'FiscalSeriesDeclared',
  'FiscalBlockGranted',
  'FiscalRangeGranted',
  'FiscalRangeClosed',
  // A device must not grant itself stock, consume or release quotas, or move rights (docs/escrow.md).
  'EscrowGranted',
  'EscrowConsumed',
  'EscrowReleased',
  'EscrowRightsMoved',
]);

function debtPayment() {
  return z
    .looseObject({
      payment_id: id,
      debt_id: id,
      amount: positiveMoney,
      payment_method: text(50).nullish(),
      method: text(50).nullish(),
      paid_at: timestamp.optional(),
      notes: text(2000).nullish(),
      note: text(2000).nullish(),
    })
    .refine((p) => p.paid_at === undefined || !Number.isNaN(Date.parse(p.paid_at)), {
      path: ['paid_at'],
      message: 'paid_at must be a date-time',
    });
}

export type EventType = keyof typeof payloadSchemas;
export const EVENT_TYPES = Object.keys(payloadSchemas) as EventType[];
export type PayloadOf<T extends EventType> = z.infer<(typeof payloadSchemas)[T]>;

const envelopeFields = {
  event_id: id,
  store_id: id,
  device_id: z.string().min(1).max(100),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  vector_clock: z.record(
    z.string().min(1).max(100),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ),
  created_at: timestamp,
  actor_user_id: z.string().max(200).nullish(),
  delta_payload: z.unknown().optional(),
  /** Set by the node that first accepted the event; peers relay it unchanged. */
  origin_node: z.string().min(1).max(100).optional(),
  /** The ordering stamp that node gave it (domain/crdt/hlc.ts); taken from peers only. */
  hlc: timestamp.optional(),
};

function eventSchema<T extends EventType>(type: T) {
  return z.looseObject({ ...envelopeFields, type: z.literal(type), payload: payloadSchemas[type] });
}

export const syncEventSchema = z.discriminatedUnion('type', [
  eventSchema('SaleCreated'),
  eventSchema('SaleVoided'),
  eventSchema('StockReceived'),
  eventSchema('StockAdjusted'),
  eventSchema('StockDeltaApplied'),
  eventSchema('DebtCreated'),
  eventSchema('DebtPaymentRecorded'),
  eventSchema('DebtPaymentAdded'),
  eventSchema('ProductCreated'),
  eventSchema('ProductUpdated'),
  eventSchema('CustomerCreated'),
  eventSchema('CustomerUpdated'),
  eventSchema('CashSessionOpened'),
  eventSchema('CashSessionClosed'),
  eventSchema('CashLedgerEntryCreated'),
  eventSchema('EscrowGranted'),
  eventSchema('EscrowConsumed'),
  eventSchema('EscrowReleased'),
  eventSchema('EscrowRightsMoved'),
  eventSchema('FiscalSeriesDeclared'),
  eventSchema('FiscalBlockGranted'),
  eventSchema('FiscalRangeGranted'),
  eventSchema('FiscalRangeClosed'),
]);
export type SyncEvent = z.infer<typeof syncEventSchema>;

export const pushRequestSchema = z.object({
  store_id: id,
  device_id: z.string().min(1).max(100),
  events: z.array(syncEventSchema),
});
export type PushRequest = z.infer<typeof pushRequestSchema>;
