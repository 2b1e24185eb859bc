import { z } from 'zod';
import { REJECTION_CODES } from '../errors';
import { whyUnstorable } from '../events/decode';
import { idSchema, syncEventSchema, timestampSchema } from '../events/schemas';
import {
  isDayKey,
  MAX_BUCKETS_PER_REQUEST,
  MAX_DAYS_PER_REQUEST,
  MAX_PREFIX,
  parseHourBucket,
  WIRE_DIGEST_HEX,
  type Bucket,
} from '../reconcile/digest-tree';

// The wire contract between nodes (and, for push and pull, with devices): every request and answer
// of the sync and federation routes as one set of zod schemas. The routes validate with them (and
// the OpenAPI document is generated from the routes), and infra/peers/peer-client.ts parses every
// answer a peer gives with the same schemas, so the two sides cannot drift apart unnoticed.
//
//   push    POST /sync/push                  an envelope of events → accepted / duplicates / rejected
//   pull    GET  /sync/pull                  a store's change feed in commit order
//   digests GET  /sync/federation/merkle     one level of a store's digest tree
//   events  GET  /sync/federation/events     ids and payload hashes inside hour or prefix buckets
//   fetch   POST /sync/federation/events/fetch  events by id, as stored, in causal order
//   escrowRights POST /sync/federation/escrow/rights  escrow rights of a product moved to the asking node
//   fiscal  POST /sync/federation/fiscal/blocks  the series' home node grants the caller a number block
//   debts   GET  /sync/federation/debts      digests of a store's debt states, then the debts of differing buckets

export const PeerPath = {
  push: '/sync/push',
  pull: '/sync/pull',
  digests: '/sync/federation/merkle',
  events: '/sync/federation/events',
  fetch: '/sync/federation/events/fetch',
  escrowRights: '/sync/federation/escrow/rights',
  fiscalBlock: '/sync/federation/fiscal/blocks',
  debts: '/sync/federation/debts',
  health: '/healthz',
} as const;

/** Most ids one fetch request may ask for. */
export const FETCH_MAX_IDS = 1000;

/** The body of every error answer, from any route. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .describe('Every error has this shape');

// ---------------------------------------------------------------------------------------------
// Events on the wire

/** An event as stored and served (pull, fetch, relay): what the device sent plus its origin node. */
export const wireEventSchema = z.object({
  event_id: z.string(),
  store_id: z.string(),
  device_id: z.string(),
  seq: z.number().int(),
  type: z.string(),
  vector_clock: z.record(z.string(), z.number()),
  payload: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  actor_user_id: z.string().nullable(),
  origin_node: z.string(),
  hlc: z.string().optional().describe('the ordering stamp the origin node gave the event'),
  delta_payload: z.unknown().optional(),
});
export type WireEvent = z.infer<typeof wireEventSchema>;

// ---------------------------------------------------------------------------------------------
// push

// The OpenAPI document is 3.0: its exclusiveMinimum is a flag, not a number.
const { $schema: _ignored, ...eventJsonSchema } = z.toJSONSchema(syncEventSchema, {
  io: 'input',
  unrepresentable: 'any',
  target: 'openapi-3.0',
}) as Record<string, unknown>;

/**
 * The push body as the route validates it: the envelope strictly (a bad one is a 400), each event
 * as an opaque value that domain/events/decode.ts checks on its own, so one bad event is rejected by
 * itself and never takes the valid events of the request with it. The documented item schema is
 * the full event schema.
 */
export const pushEnvelopeSchema = z.object({
  store_id: idSchema,
  device_id: z
    .string()
    .min(1)
    .max(100)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL'),
  events: z.array(
    z.unknown().meta({
      description: 'an event; an invalid one is listed in `rejected` and the others are accepted',
      ...eventJsonSchema,
    }),
  ),
});

export const rejectedEventSchema = z.object({
  index: z.number().int().describe('position of the event in the request'),
  event_id: z.string().nullable().describe('the event_id as sent, when it had a usable one'),
  code: z.string().describe(REJECTION_CODES.join(', ')),
  message: z.string().describe('names the field'),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const pushResponseSchema = z.object({
  accepted: z.array(z.string()),
  duplicates: z.array(z.string()),
  rejected: z.array(rejectedEventSchema),
  last_node_seq: z
    .number()
    .int()
    .nullable()
    .describe('highest node_seq given to an event accepted by this request; null when none was accepted'),
});
export type PushResponse = z.infer<typeof pushResponseSchema>;

// ---------------------------------------------------------------------------------------------
// pull

export function pullQuerySchema(maxLimit: number) {
  return z.object({
    store_id: z.guid(),
    since: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(Math.min(500, maxLimit)),
  });
}

export const pulledEventSchema = wireEventSchema.extend({ node_seq: z.number().int() });

export const pullResponseSchema = z.object({
  events: z.array(pulledEventSchema),
  next_since: z.number().int(),
  has_more: z.boolean(),
});

// ---------------------------------------------------------------------------------------------
// digests: the tree one level at a time

/** A comma-separated list in a query string, each item checked. */
function list(item: (s: string) => boolean, what: string, max: number) {
  return z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .refine((items) => items.length <= max, `at most ${max} ${what} per request`)
    .refine((items) => items.every(item), `each item must be ${what}`);
}

const dayList = list(isDayKey, 'a UTC day (YYYY-MM-DD)', MAX_DAYS_PER_REQUEST);
const bucketList = list(
  (k) => parseHourBucket(k) !== null,
  `an hour bucket (YYYY-MM-DDTHH, optionally /hexprefix up to ${MAX_PREFIX} digits)`,
  MAX_BUCKETS_PER_REQUEST,
);

export const digestLevelSchema = z.enum(['root', 'day', 'hour', 'prefix']);
export type DigestLevel = z.infer<typeof digestLevelSchema>;

export const digestQuerySchema = z
  .object({
    store_id: idSchema,
    level: digestLevelSchema,
    day: dayList.optional(),
    bucket: bucketList.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.level === 'hour' && !q.day) {
      ctx.addIssue({ code: 'custom', path: ['day'], message: 'required for level=hour' });
    }
    if (q.level !== 'prefix') return;
    if (!q.bucket) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'required for level=prefix' });
      return;
    }
    // Refinements run even when an item failed its own check: such an item is not a bucket here.
    const tooDeep = q.bucket.find((k) => (parseHourBucket(k)?.prefix.length ?? 0) >= MAX_PREFIX);
    if (tooDeep) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: `${tooDeep} cannot be split further` });
    }
  });

export const bucketTupleSchema = z
  .tuple([z.string(), z.number().int(), z.string()])
  .describe(
    `[key, event count, digest: first ${WIRE_DIGEST_HEX} hex digits of the XOR of sha256(event_id ‖ payload hash)]`,
  );
export type BucketTuple = z.infer<typeof bucketTupleSchema>;

export const digestResponseSchema = z.object({
  store_id: z.string(),
  level: digestLevelSchema,
  count: z.number().int().optional().describe('level=root: events of the store'),
  digest: z.string().optional().describe('level=root: digest of the whole store (64 hex)'),
  buckets: z
    .array(bucketTupleSchema)
    .optional()
    .describe('other levels: the non-empty buckets, in key order'),
});
export type DigestResponse = z.infer<typeof digestResponseSchema>;

/** Buckets as compact tuples, digests shortened to WIRE_DIGEST_HEX. */
export const toTuples = (buckets: Bucket[]): BucketTuple[] =>
  buckets.map((b) => [b.key, b.count, b.digest.slice(0, WIRE_DIGEST_HEX)]);

export const fromTuples = (tuples: BucketTuple[] | undefined): Bucket[] =>
  (tuples ?? []).map(([key, count, digest]) => ({ key, count, digest }));

// ---------------------------------------------------------------------------------------------
// events: the leaves of buckets

export const leavesQuerySchema = z
  .object({
    store_id: idSchema,
    hour: z.iso.datetime({ offset: true }).optional(),
    bucket: bucketList.optional(),
  })
  .superRefine((q, ctx) => {
    if ((q.hour === undefined) === (q.bucket === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['hour'], message: 'give either hour or bucket' });
    }
  });

export const leavesResponseSchema = z.object({
  store_id: z.string(),
  events: z
    .array(z.tuple([z.string(), z.string()]))
    .describe(`[event_id, first ${WIRE_DIGEST_HEX} hex digits of full_payload_hash]`),
});

// ---------------------------------------------------------------------------------------------
// fetch

export const fetchRequestSchema = z.object({
  store_id: idSchema,
  event_ids: z.array(z.guid()).min(1).max(FETCH_MAX_IDS),
});

export const fetchResponseSchema = z.object({
  store_id: z.string(),
  events: z
    .array(
      wireEventSchema.describe(
        'An event exactly as stored, in the shape POST /sync/push accepts from a peer',
      ),
    )
    .describe('in causal relay order (domain/relay/priority.ts)'),
  missing: z.array(z.string()),
});

// ---------------------------------------------------------------------------------------------
// What crossed the wire

/** Counts what crossed the wire, for the reconcile result and the benchmarks. */
// ---------------------------------------------------------------------------------------------
// Escrow rights (docs/escrow.md): a node short of rights for a product asks a peer to move some

export const escrowRightsRequestSchema = z.object({
  store_id: idSchema,
  product_id: idSchema,
  qty: z.number().int().positive().max(1e9).describe('rights wanted (whole units)'),
});

export const escrowRightsResponseSchema = z.object({
  moved: z.number().int().nonnegative().describe('rights moved to the asking node (0: none to spare)'),
  event: wireEventSchema
    .nullable()
    .describe(
      'the EscrowRightsMoved event as stored, for the asker to ingest at once (null when none moved)',
    ),
});
export type EscrowRightsResponse = z.infer<typeof escrowRightsResponseSchema>;

export interface TrafficCounter {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

export function newTraffic(): TrafficCounter {
  return { requests: 0, bytesSent: 0, bytesReceived: 0 };
}

// ---------------------------------------------------------------------------------------------
// fiscal blocks (docs/fiscal.md)

const fiscalNumber = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A series as the asking node knows it: the home node declares it so if it has not heard of it yet. */
export const fiscalSeriesWireSchema = z.object({
  prefix: z
    .string()
    .max(20)
    .refine((s) => whyUnstorable(s) === null, 'must be storable text'),
  first_number: fiscalNumber,
  last_number: fiscalNumber.nullable(),
  valid_until: timestampSchema.nullable(),
  home_node: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
  implicit: z.boolean(),
});

export const fiscalBlockRequestSchema = z.object({
  store_id: idSchema,
  series_id: idSchema,
  size: z.number().int().min(1).max(1_000_000),
  series: fiscalSeriesWireSchema,
});
export type FiscalBlockRequest = z.infer<typeof fiscalBlockRequestSchema>;

export const fiscalBlockResponseSchema = z.object({
  block: z.object({
    block_id: z.string(),
    node_id: z.string(),
    block_start: z.number().int(),
    block_end: z.number().int(),
  }),
  /** The grant (and the series' declaration) as stored on the home node: the asker ingests them. */
  events: z.array(wireEventSchema),
});
export type FiscalBlockResponse = z.infer<typeof fiscalBlockResponseSchema>;

// ---------------------------------------------------------------------------------------------
// debts (docs/health.md, "Debts between nodes"): the health report compares each debt's state with
// each peer's. A debt's state is its total, remaining amount and payments; equal stores cost one
// request (level=root), a difference narrows to buckets (the first two hex digits of the debt id),
// then only the debts of differing buckets travel.

/** Most buckets one level=debts request may ask for (each about 1/256 of the store's debts). */
export const DEBT_BUCKETS_PER_REQUEST = 16;
const debtBucketList = list(
  (k) => /^[0-9a-f]{2}$/.test(k),
  'a debt bucket (two hex digits)',
  DEBT_BUCKETS_PER_REQUEST,
);

export const debtDigestLevelSchema = z.enum(['root', 'bucket', 'debts']);
export type DebtDigestLevel = z.infer<typeof debtDigestLevelSchema>;

export const debtDigestQuerySchema = z
  .object({ store_id: idSchema, level: debtDigestLevelSchema, bucket: debtBucketList.optional() })
  .superRefine((q, ctx) => {
    if (q.level === 'debts' && !q.bucket)
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'required for level=debts' });
  });

export const debtStateSchema = z.object({
  debt_id: z.string(),
  customer_id: z.string().nullable(),
  total_amount: z.string().describe('exact decimal text'),
  remaining_amount: z.string().describe('exact decimal text'),
  payments: z.number().int().describe('payments counted in the remaining amount'),
  digest: z.string().describe('md5 of the debt with its payments (id and amount of each)'),
});
export type DebtState = z.infer<typeof debtStateSchema>;

export const debtDigestResponseSchema = z.object({
  store_id: z.string(),
  level: debtDigestLevelSchema,
  count: z.number().int().optional().describe('level=root: debts of the store'),
  digest: z.string().optional().describe('level=root: md5 over every debt state, in id order'),
  buckets: z
    .array(bucketTupleSchema)
    .optional()
    .describe('level=bucket: [two hex digits, debts, md5 of their states], non-empty buckets in key order'),
  debts: z.array(debtStateSchema).optional().describe('level=debts: the debts of the asked buckets, by id'),
});
export type DebtDigestResponse = z.infer<typeof debtDigestResponseSchema>;
