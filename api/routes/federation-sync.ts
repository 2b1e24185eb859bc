import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../infra/db';
import {
  dayDigests,
  hourDigests,
  listLeaves,
  prefixDigests,
  rootDigest,
} from '../../infra/repositories/event-digests';
import { fetchEvents } from '../../infra/repositories/events';
import {
  hourKeyOf,
  isDayKey,
  MAX_PREFIX,
  parseHourBucket,
  WIRE_DIGEST_HEX,
  type Bucket,
} from '../../domain/reconcile/digest-tree';
import { storedEventSchema } from '../../domain/events/schemas';
import { toWireEvent } from '../../infra/peers/peer-client';
import { FETCH_MAX_IDS } from '../../infra/reconcile/repair';
import { AppError, errorResponses } from '../errors';

// The peer side of anti-entropy (docs/federation.md, "Anti-entropy"): a store's digest tree, the ids inside a bucket,
// and events by id. A reconciling peer walks the tree from the root and only descends where its
// own digests differ, so an in-sync store costs one small request.

export interface FederationSyncRoutesOptions {
  db: Db;
}

const MAX_DAYS = 100;
const MAX_BUCKETS = 200;

/** Buckets as compact tuples, digests shortened to WIRE_DIGEST_HEX. */
const toTuples = (buckets: Bucket[]): [string, number, string][] =>
  buckets.map((b) => [b.key, b.count, b.digest.slice(0, WIRE_DIGEST_HEX)]);

/** A comma-separated list in a query string, each item checked. */
function list(item: (s: string) => boolean, what: string, max: number) {
  return z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .refine((items) => items.length <= max, `at most ${max} ${what} per request`)
    .refine((items) => items.every(item), `each item must be ${what}`);
}

const days = list(isDayKey, 'a UTC day (YYYY-MM-DD)', MAX_DAYS);
const hourBuckets = list(
  (k) => parseHourBucket(k) !== null,
  `an hour bucket (YYYY-MM-DDTHH, optionally /hexprefix up to ${MAX_PREFIX} digits)`,
  MAX_BUCKETS,
);

const bucketTuple = z
  .tuple([z.string(), z.number().int(), z.string()])
  .describe(
    `[key, event count, digest: first ${WIRE_DIGEST_HEX} hex digits of the XOR of sha256(event_id ‖ payload hash)]`,
  );

const merkleResponse = z.object({
  store_id: z.string(),
  level: z.enum(['root', 'day', 'hour', 'prefix']),
  count: z.number().int().optional().describe('level=root: events of the store'),
  digest: z.string().optional().describe('level=root: digest of the whole store (64 hex)'),
  buckets: z.array(bucketTuple).optional().describe('other levels: the non-empty buckets, in key order'),
});

const wireEventSchema = storedEventSchema.describe(
  'An event exactly as stored, in the shape POST /sync/push accepts from a peer',
);

export const federationSyncRoutes: FastifyPluginAsyncZod<FederationSyncRoutesOptions> = async (app, opts) => {
  const { db } = opts;

  app.get(
    '/sync/federation/merkle',
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: "Anti-entropy digests of a store's event log, one tree level at a time",
        description:
          'level=root: count and digest of the whole store. level=day: every UTC day with events. ' +
          `level=hour&day=D[,D…] (≤ ${MAX_DAYS}): the hours of those days. level=prefix&bucket=K[,K…] ` +
          `(≤ ${MAX_BUCKETS}): the events of hour buckets (2026-11-20T13) or prefix buckets (2026-11-20T13/a) ` +
          'grouped by the next hex digit of their id. A digest is the XOR of sha256(event_id ‖ full_payload_hash) ' +
          'over the bucket; an unknown store is an empty tree.',
        security: [{ bearer: [] }],
        querystring: z.object({
          store_id: z.guid(),
          level: z.enum(['root', 'day', 'hour', 'prefix']),
          day: days.optional(),
          bucket: hourBuckets.optional(),
        }),
        response: { 200: merkleResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { level, day, bucket } = request.query;
      const storeId = request.query.store_id.toLowerCase();
      switch (level) {
        case 'root':
          return { store_id: storeId, level, ...(await rootDigest(db, storeId)) };
        case 'day':
          return { store_id: storeId, level, buckets: toTuples(await dayDigests(db, storeId)) };
        case 'hour':
          if (!day) throw new AppError(400, 'VALIDATION_FAILED', 'querystring.day: required for level=hour');
          return { store_id: storeId, level, buckets: toTuples(await hourDigests(db, storeId, day)) };
        case 'prefix': {
          if (!bucket)
            throw new AppError(400, 'VALIDATION_FAILED', 'querystring.bucket: required for level=prefix');
          const tooDeep = bucket.find((k) => parseHourBucket(k)!.prefix.length >= MAX_PREFIX);
          if (tooDeep) {
            throw new AppError(
              400,
              'VALIDATION_FAILED',
              `querystring.bucket: ${tooDeep} cannot be split further`,
            );
          }
          return { store_id: storeId, level, buckets: toTuples(await prefixDigests(db, storeId, bucket)) };
        }
      }
    },
  );

  app.get(
    '/sync/federation/events',
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Ids and payload hashes of the events in an hour (or in hour/prefix buckets)',
        description:
          'Give `hour` (an ISO instant: the UTC hour that contains it) or `bucket` (keys as returned by ' +
          `GET /sync/federation/merkle). Each item is [event_id, first ${WIRE_DIGEST_HEX} hex digits of full_payload_hash].`,
        security: [{ bearer: [] }],
        querystring: z.object({
          store_id: z.guid(),
          hour: z.iso.datetime({ offset: true }).optional(),
          bucket: hourBuckets.optional(),
        }),
        response: {
          200: z.object({ store_id: z.string(), events: z.array(z.tuple([z.string(), z.string()])) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { hour, bucket } = request.query;
      const storeId = request.query.store_id.toLowerCase();
      if ((hour === undefined) === (bucket === undefined)) {
        throw new AppError(400, 'VALIDATION_FAILED', 'querystring.hour: give either hour or bucket');
      }
      const keys = bucket ?? [hourKeyOf(new Date(hour!))];
      const leaves = await listLeaves(db, storeId, keys);
      return {
        store_id: storeId,
        events: leaves.map(([id, hash]): [string, string] => [id, hash.slice(0, WIRE_DIGEST_HEX)]),
      };
    },
  );

  app.post(
    '/sync/federation/events/fetch',
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Events of a store by id, as stored (for a reconciling peer to replay)',
        description: `At most ${FETCH_MAX_IDS} ids. Events come in causal relay order; ids this node does not hold are listed in \`missing\`.`,
        security: [{ bearer: [] }],
        body: z.object({
          store_id: z.guid(),
          event_ids: z.array(z.guid()).min(1).max(FETCH_MAX_IDS),
        }),
        response: {
          200: z.object({
            store_id: z.string(),
            events: z.array(wireEventSchema),
            missing: z.array(z.string()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const storeId = request.body.store_id.toLowerCase();
      const ids = [...new Set(request.body.event_ids.map((id) => id.toLowerCase()))];
      const rows = await fetchEvents(db, storeId, ids);
      const found = new Set(rows.map((r) => r.event_id));
      return {
        store_id: storeId,
        events: rows.map((r) => toWireEvent(r) as z.infer<typeof wireEventSchema>),
        missing: ids.filter((id) => !found.has(id)),
      };
    },
  );
};
