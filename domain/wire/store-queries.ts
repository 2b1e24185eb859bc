import { z } from 'zod';

// The read side of a store (GET /stores/{store_id}/…): the rows a device caches and an operator
// inspects, and the explanation of a number. One module of wire schemas: the routes validate and
// document with them, and the PWA client parses the answers with the same ones.
//
// Money and quantities are decimal strings ("12.50", "-2.000"): exact, as PostgreSQL holds them.
// Times are ISO 8601 in UTC.

export const QUERY_PAGE_MAX = 500;
export const QUERY_PAGE_DEFAULT = 100;

const decimal = z.string().describe('exact decimal, as a string');
const nullableDecimal = decimal.nullable();
const time = z.string().describe('ISO 8601, UTC');

export const storeParamsSchema = z.object({ store_id: z.guid() });

/** Cursor pagination: pass `next_cursor` back as `cursor` until it is null. */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(QUERY_PAGE_MAX)
    .default(QUERY_PAGE_DEFAULT)
    .describe(`rows per page, at most ${QUERY_PAGE_MAX}`),
  cursor: z.string().min(1).max(512).optional().describe('`next_cursor` of the previous page'),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('null on the last page'),
  });
}

export const productSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  sku: z.string().nullable(),
  barcode: z.string().nullable(),
  price: nullableDecimal,
  cost: nullableDecimal,
  category: z.string().nullable(),
  unit: z.string().nullable(),
  track_inventory: z
    .boolean()
    .describe('false: sell without a stock check; a product never given the field is tracked (true)'),
  active: z.boolean().describe('a product never given the field is active (true)'),
});
export type ProductOut = z.infer<typeof productSchema>;

export const stockSchema = z.object({
  warehouse_id: z.string().describe("the store's default warehouse has the store's id"),
  product_id: z.string(),
  quantity: decimal.describe('Σ of the movements (explain/stock lists them)'),
});
export type StockOut = z.infer<typeof stockSchema>;

export const customerSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  document_id: z.string().nullable(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  address: z.string().nullable(),
  credit_limit: nullableDecimal,
  notes: z.string().nullable(),
  active: z.boolean(),
});
export type CustomerOut = z.infer<typeof customerSchema>;

export const debtPaymentSchema = z.object({
  id: z.string(),
  event_id: z.string(),
  amount: decimal,
  payment_method: z.string(),
  paid_at: time,
  paid_by: z.string().nullable(),
  notes: z.string().nullable(),
});

export const debtStatusSchema = z.enum(['pending', 'partial', 'paid']);

export const debtsQuerySchema = pageQuerySchema.extend({
  status: debtStatusSchema.optional().describe('only the debts in this status'),
});

export const debtSchema = z.object({
  id: z.string(),
  event_id: z.string(),
  customer_id: z.string().nullable(),
  sale_id: z.string().nullable(),
  total_amount: decimal,
  paid_amount: decimal,
  remaining_amount: decimal.describe('total_amount − Σ payments'),
  status: debtStatusSchema,
  notes: z.string().nullable(),
  due_date: z.string().nullable().describe('YYYY-MM-DD'),
  created_at: time,
  created_by: z.string().nullable(),
  payments: z.array(debtPaymentSchema).describe('oldest first'),
});
export type DebtOut = z.infer<typeof debtSchema>;

export const saleLineSchema = z.object({
  line_no: z.number().int(),
  product_id: z.string(),
  qty: decimal,
  unit_price: decimal,
  line_total: decimal,
});

export const saleSchema = z.object({
  id: z.string(),
  event_id: z.string(),
  device_id: z.string(),
  warehouse_id: z.string(),
  customer_id: z.string().nullable(),
  session_id: z.string().nullable(),
  total: decimal,
  payment_method: z.string().nullable(),
  invoice_series_id: z.string().nullable(),
  fiscal_number: z.number().int().nullable(),
  sold_at: time,
  sold_by: z.string().nullable(),
  voided: z.boolean(),
  voided_at: time.nullable(),
  void_event_id: z.string().nullable().describe('the void shown (the earliest, when several arrived)'),
  void_reason: z.string().nullable(),
  lines: z.array(saleLineSchema),
});
export type SaleOut = z.infer<typeof saleSchema>;

export const salesQuerySchema = pageQuerySchema.extend({
  day: z.iso
    .date()
    // Sales are dated in years 0001-9999 (the event schemas): a day outside them is an input error.
    .refine((d) => d >= '0001-01-01' && d < '9999-12-31', { message: 'must be a day in years 0001-9999' })
    .describe('YYYY-MM-DD: the sales whose sold_at falls on that UTC day'),
});

export const ledgerEntrySchema = z.object({
  id: z.string(),
  event_id: z.string(),
  kind: z.string(),
  amount: decimal,
  reason: z.string().nullable(),
  occurred_at: time,
  recorded_by: z.string().nullable(),
});

export const cashSessionsQuerySchema = pageQuerySchema.extend({
  status: z.enum(['open', 'closed']).optional().describe('only the open (not closed) or the closed sessions'),
});

export const cashSessionSchema = z.object({
  id: z.string(),
  device_id: z.string().nullable(),
  status: z.enum(['open', 'closed']),
  opened_at: time.nullable(),
  opened_by: z.string().nullable(),
  opening_amount: nullableDecimal,
  closed_at: time.nullable(),
  closed_by: z.string().nullable(),
  closing_amount: nullableDecimal,
  expected_amount: nullableDecimal,
  notes: z.string().nullable(),
  ledger: z.array(ledgerEntrySchema).describe('oldest first'),
});
export type CashSessionOut = z.infer<typeof cashSessionSchema>;

/** The days of sales history a snapshot carries (the escrow plan's window, pwa/src/escrow.ts). */
export const SNAPSHOT_SALES_DAYS = 7;

export const snapshotSchema = z.object({
  store_id: z.string(),
  node_id: z.string().describe('positions are per node: after switching nodes, take a new snapshot'),
  position: z
    .number()
    .int()
    .describe(
      'the feed position these rows correspond to: follow with GET /sync/pull?store_id=…&since=<position>',
    ),
  vector_clock: z
    .record(z.string(), z.number().int())
    .describe("the highest seq of each device in the store's log: merge it into the device's clock"),
  clock_time: time.nullable().describe('the latest ordering stamp in the log (null before the first event)'),
  taken_at: time,
  products: z.array(productSchema),
  stock: z.array(
    stockSchema.extend({
      reserved: decimal
        .optional()
        .describe(
          "units of the product held in escrow quotas not given back, every device's (docs/escrow.md), on the " +
            "default warehouse's row (or the product's first row); a till adds its own quota back",
        ),
    }),
  ),
  sales_stats: z
    .array(z.object({ product_id: z.string(), day: z.string().describe('UTC, YYYY-MM-DD'), qty: decimal }))
    .describe(
      `units sold per product and UTC day over the last ${SNAPSHOT_SALES_DAYS} days (today included), voided ` +
        "sales left out: a new till's top sellers for its escrow plan",
    ),
  customers: z.array(customerSchema),
  debts: z.array(debtSchema).describe('debts not fully paid'),
  cash_sessions: z.array(cashSessionSchema).describe('sessions not closed'),
});
export type SnapshotOut = z.infer<typeof snapshotSchema>;

// ---------------------------------------------------------------------------------------------
// explain

/** The event behind a contribution: who wrote it, where it entered, how it reached this node. */
export const explainEventSchema = z.object({
  event_id: z.string(),
  type: z.string(),
  device_id: z.string(),
  device_name: z
    .string()
    .nullable()
    .describe('as registered on this node; null for a device of another node'),
  origin_node: z.string().describe('the node where the event entered the federation'),
  via: z.string().describe('how it reached this node: a device, an admin, or the peer that relayed it'),
  hlc: time.describe('the ordering stamp'),
  created_at: time.describe("the device's clock"),
  node_seq: z.number().int().describe("this node's feed position"),
});
export type ExplainEvent = z.infer<typeof explainEventSchema>;

export const explainStockQuerySchema = z.object({
  warehouse_id: z.guid().optional().describe("default: the store's default warehouse (the store id)"),
  limit: z.coerce.number().int().min(1).max(5000).default(1000).describe('newest contributions shown'),
});

export const stockContributionSchema = z.object({
  kind: z.enum(['sale', 'void', 'received', 'adjusted', 'delta']),
  qty: decimal,
  line_no: z.number().int().describe('the sale line (negative: the restock of that line by a void)'),
  sale_id: z.string().nullable(),
  occurred_at: time,
  event: explainEventSchema.describe('for a void restock: the void event'),
  summary: z.string().describe('one line for an operator, e.g. "-2 from sale S on POS 1 via node cloud"'),
});

export const stockExplanationSchema = z.object({
  store_id: z.string(),
  warehouse_id: z.string(),
  product_id: z.string(),
  quantity: decimal.describe('the stock row (0 when there is none)'),
  contributions: z.array(stockContributionSchema).describe('newest first, at most `limit`'),
  omitted: z
    .object({ count: z.number().int(), qty: decimal })
    .describe('the older contributions not listed; quantity = Σ contributions.qty + omitted.qty'),
});
export type StockExplanation = z.infer<typeof stockExplanationSchema>;

export const debtContributionSchema = z.object({
  kind: z.enum(['debt', 'payment']),
  amount: decimal.describe('+total for the debt, −amount for each payment'),
  payment_id: z.string().nullable(),
  at: time,
  event: explainEventSchema,
  summary: z.string(),
});

export const debtExplanationSchema = z.object({
  store_id: z.string(),
  debt_id: z.string(),
  total_amount: decimal,
  paid_amount: decimal,
  remaining_amount: decimal.describe('= Σ contributions.amount'),
  status: debtStatusSchema,
  contributions: z.array(debtContributionSchema).describe('the debt, then its payments by time'),
});
export type DebtExplanation = z.infer<typeof debtExplanationSchema>;

export const productWriteSchema = z.object({
  value: z.unknown().describe('what this write set the field to'),
  stamp: z.string().describe('(hlc|origin_node|device|event_id): the larger stamp wins'),
  concurrent: z
    .boolean()
    .describe('true when the write and the winner saw neither each other (recorded in the conflict audit)'),
  event: explainEventSchema,
});

export const productFieldSchema = z.object({
  field: z.string(),
  value: z.unknown().describe('the value in the products row'),
  winner: productWriteSchema.nullable().describe('the write that set the value; null if never written'),
  losers: z.array(productWriteSchema).describe('the writes of this field that lost, newest stamp first'),
  summary: z.string(),
});

export const productExplanationSchema = z.object({
  store_id: z.string(),
  product_id: z.string(),
  fields: z.array(productFieldSchema),
  conflicts: z
    .array(
      z.object({
        id: z.string(),
        field: z.string().nullable(),
        strategy: z.string(),
        winner_event_id: z.string(),
        loser_event_ids: z.array(z.string()),
        resolved_at: time,
      }),
    )
    .describe("the conflict audit's rows for this product"),
});
export type ProductExplanation = z.infer<typeof productExplanationSchema>;
