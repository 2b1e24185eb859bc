import { z } from 'zod';
import { whyUnstorable } from '../events/decode';

// The ERP bridge's wire contract (seed 004): what agents and admins send and get back. Field names
// are the seed's (camelCase), because ERP agents are written against it. One source for route
// validation, OpenAPI, the ingest pipeline and the tests' fake agent.

/** Text that PostgreSQL stores as sent (no NUL, no unpaired surrogate), 1..max characters. */
export const pgText = (max = 500) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((s, ctx) => {
      const why = whyUnstorable(s);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    });
const optionalText = (max = 500) => pgText(max).nullish();

/** Vendor ids name schedules, workflow ids and cache keys: a conservative alphabet. */
export const vendorIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'vendorId: letters, digits, _ . - only');

const timestamp = z.iso.datetime({ offset: true }).refine(
  (s) => {
    const t = Date.parse(s);
    return Number.isFinite(t) && t >= Date.UTC(1970, 0, 1) && t < Date.UTC(9999, 0, 1);
  },
  { message: 'must be a date-time between 1970 and 9999' },
);
const amount = z.number().finite().min(-1e12).max(1e12);

export const MAPPING_TYPES = ['unit', 'vat', 'family', 'subfamily'] as const;
export const mappingTypeSchema = z.enum(MAPPING_TYPES);
export type MappingType = z.infer<typeof mappingTypeSchema>;

// ---- agents ----

export const registerAgentBodySchema = z.strictObject({
  vendorId: vendorIdSchema,
  agentUrl: z.url({ protocol: /^https?$/ }).max(2000),
  /** The agent's own token: stored as a bcrypt hash, presented as Bearer on every later call. */
  authToken: z.string().min(16).max(200),
  /** Re-registering an existing vendor: the token it holds now. */
  currentToken: z.string().min(1).max(200).optional(),
  version: optionalText(100),
  capabilities: z.array(pgText(100)).max(50).optional(),
});
export type RegisterAgentBody = z.infer<typeof registerAgentBodySchema>;

export const heartbeatBodySchema = z.strictObject({
  vendorId: vendorIdSchema,
  version: optionalText(100),
  status: optionalText(100),
  queueDepth: z.number().int().min(0).max(1e9).optional(),
});

export const updateAgentBodySchema = z.strictObject({
  agentUrl: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  isActive: z.boolean().optional(),
  config: z.record(pgText(100), z.union([pgText(1000), z.number().finite(), z.boolean()])).optional(),
});

export const AGENT_STATUSES = ['online', 'degraded', 'offline'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const agentViewSchema = z.object({
  id: z.string(),
  vendorId: z.string(),
  agentUrl: z.string(),
  version: z.string().nullable(),
  capabilities: z.array(z.string()),
  config: z.record(z.string(), z.unknown()),
  isActive: z.boolean(),
  status: z.enum(AGENT_STATUSES),
  lastHeartbeatAt: z.string().nullable(),
  registeredAt: z.string(),
  updatedAt: z.string(),
});
export type AgentView = z.infer<typeof agentViewSchema>;

// ---- mappings ----

export const mappingBodySchema = z.strictObject({
  vendorId: vendorIdSchema,
  mappingType: mappingTypeSchema,
  erpCode: pgText(100),
  restoCode: pgText(100),
  restoLabel: optionalText(500),
});
export const mappingUpdateSchema = z.strictObject({
  restoCode: pgText(100).optional(),
  restoLabel: optionalText(500),
  isActive: z.boolean().optional(),
});
export const mappingSeedBodySchema = z.strictObject({
  mappings: z.array(mappingBodySchema).min(1).max(5000),
});
export const mappingViewSchema = z.object({
  id: z.string(),
  vendorId: z.string(),
  mappingType: mappingTypeSchema,
  erpCode: z.string(),
  restoCode: z.string(),
  restoLabel: z.string().nullable(),
  isActive: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type MappingView = z.infer<typeof mappingViewSchema>;
export interface MappingResult {
  restoCode: string;
  restoLabel: string | null;
}

// ---- ingest ----

export const itemRecordSchema = z.strictObject({
  sku: pgText(100),
  name: pgText(500),
  description: optionalText(5000),
  unit: pgText(100),
  vat: pgText(100),
  family: optionalText(100),
  subfamily: optionalText(100),
  price: amount.nullish(),
  barcode: optionalText(100),
  active: z.boolean().optional(),
  /** When the ERP last changed the record: older than what is stored → rejected as stale. */
  updatedAt: timestamp,
});
export type ItemRecord = z.infer<typeof itemRecordSchema>;

export const stockRecordSchema = z.strictObject({
  sku: pgText(100),
  warehouseId: pgText(100),
  quantity: amount,
  reserved: amount.nullish(),
  updatedAt: timestamp,
});
export type StockRecord = z.infer<typeof stockRecordSchema>;

export const warehouseRecordSchema = z.strictObject({
  warehouseId: pgText(100),
  name: pgText(500),
  address: optionalText(1000),
  active: z.boolean().optional(),
  updatedAt: timestamp,
});
export type WarehouseRecord = z.infer<typeof warehouseRecordSchema>;

export const INGEST_KINDS = ['items', 'stock', 'warehouses'] as const;
export type IngestKind = (typeof INGEST_KINDS)[number];

export const recordSchemas = {
  items: itemRecordSchema,
  stock: stockRecordSchema,
  warehouses: warehouseRecordSchema,
} as const;

/**
 * An ingest body: records stay `unknown` here so that one bad record fails alone (its result says
 * why) instead of failing the request; the count is checked by the route (413 over the limit).
 */
export const ingestBodySchema = (kind: IngestKind) =>
  z.object({
    vendorId: vendorIdSchema,
    [kind]: z.array(z.unknown()),
  } as { vendorId: typeof vendorIdSchema } & Record<IngestKind, z.ZodArray<z.ZodUnknown>>);

export const INGEST_STATUSES = ['processed', 'skipped', 'failed'] as const;
export type IngestStatus = (typeof INGEST_STATUSES)[number];

/** Why a record was skipped or failed (`results[].reason`). */
export const IngestReason = {
  unchanged: 'UNCHANGED',
  stale: 'STALE',
  invalid: 'INVALID',
  unmappedUnit: 'UNMAPPED_UNIT',
  unmappedVat: 'UNMAPPED_VAT',
  duplicate: 'DUPLICATE_IN_REQUEST',
} as const;

export const ingestResultSchema = z.object({
  sku: z.string().optional(),
  warehouseId: z.string().optional(),
  status: z.enum(INGEST_STATUSES),
  reason: z.string().optional(),
  message: z.string().optional(),
});
export type IngestResult = z.infer<typeof ingestResultSchema>;

export const ingestResponseSchema = z.object({
  processed: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  results: z.array(ingestResultSchema),
});
export type IngestResponse = z.infer<typeof ingestResponseSchema>;

// ---- orders, callbacks, dead letters ----

export const testOrderBodySchema = z.strictObject({
  vendorId: vendorIdSchema,
  order: z
    .record(pgText(100), z.union([pgText(5000), z.number().finite(), z.boolean(), z.null()]))
    .optional(),
});

export const callbackBodySchema = z.strictObject({
  jobId: z.guid(),
  status: z.enum(['completed', 'failed']),
  erpReference: pgText(200).optional(),
  error: pgText(2000).optional(),
});
export type CallbackBody = z.infer<typeof callbackBodySchema>;

/** What the agent's `/sync/create-order` answers: accepted (a callback follows) or done at once. */
export const createOrderAnswerSchema = z.looseObject({
  accepted: z.boolean().optional(),
  status: z.enum(['accepted', 'completed', 'failed']).optional(),
  erpReference: z.string().min(1).max(200).optional(),
  error: z.string().max(2000).optional(),
});

/** What the agent's `GET /sync/checksum` answers. */
export const checksumAnswerSchema = z.object({ hash: z.string(), count: z.number().int().min(0) });

/** What the agent's `GET /sync/records` answers (a range's records, for the item compare). */
export const recordsAnswerSchema = z.object({ records: z.array(z.unknown()) });

export const RECONCILE_TYPES = ['items', 'stock'] as const;
export type ReconcileType = (typeof RECONCILE_TYPES)[number];

// ---- pagination ----

/** `?page=1&limit=50`, limit at most 100 (larger asks get 100). */
export const pageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .default(50)
    .transform((n) => Math.min(n, 100)),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

export const pageMetaSchema = z.object({
  page: z.number().int(),
  limit: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});

export function pageOf<T>(data: T[], total: number, q: PageQuery) {
  return { data, meta: { page: q.page, limit: q.limit, total, totalPages: Math.ceil(total / q.limit) } };
}
