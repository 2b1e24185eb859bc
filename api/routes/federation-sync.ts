import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Db } from '../../infra/db';
import {
  dayDigests,
  hourDigests,
  listLeaves,
  prefixDigests,
  rootDigest,
} from '../../infra/repositories/event-digests';
import { debtBucketDigests, debtRootDigest, debtStates } from '../../infra/repositories/debts';
import { fetchEvents } from '../../infra/repositories/events';
import {
  hourKeyOf,
  MAX_BUCKETS_PER_REQUEST,
  MAX_DAYS_PER_REQUEST,
  WIRE_DIGEST_HEX,
} from '../../domain/reconcile/digest-tree';
import {
  DEBT_BUCKETS_PER_REQUEST,
  debtDigestQuerySchema,
  debtDigestResponseSchema,
  digestQuerySchema,
  digestResponseSchema,
  FETCH_MAX_IDS,
  fetchRequestSchema,
  fetchResponseSchema,
  leavesQuerySchema,
  leavesResponseSchema,
  PeerPath,
  toTuples,
} from '../../domain/wire/peer-protocol';
import { toWireEvent } from '../../infra/peers/peer-client';
import { errorResponses } from '../errors';

// The peer side of anti-entropy (docs/federation.md): a store's digest tree, the ids inside a
// bucket, and events by id. A reconciling peer walks the tree from the root and only descends where
// its own digests differ, so an in-sync store costs one small request. The requests and answers are
// domain/wire/peer-protocol.ts, which the reconciling side (infra/peers/peer-client.ts) parses too.

export interface FederationSyncRoutesOptions {
  db: Db;
}

export const federationSyncRoutes: FastifyPluginAsyncZod<FederationSyncRoutesOptions> = async (app, opts) => {
  const { db } = opts;

  app.get(
    PeerPath.digests,
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: "Anti-entropy digests of a store's event log, one tree level at a time",
        description:
          'level=root: count and digest of the whole store. level=day: every UTC day with events. ' +
          `level=hour&day=D[,D…] (≤ ${MAX_DAYS_PER_REQUEST}): the hours of those days. level=prefix&bucket=K[,K…] ` +
          `(≤ ${MAX_BUCKETS_PER_REQUEST}): the events of hour buckets (2026-11-20T13) or prefix buckets (2026-11-20T13/a) ` +
          'grouped by the next hex digit of their id. A digest is the XOR of sha256(event_id ‖ full_payload_hash) ' +
          'over the bucket; an unknown store is an empty tree.',
        security: [{ bearer: [] }],
        querystring: digestQuerySchema,
        response: { 200: digestResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { store_id: storeId, level, day, bucket } = request.query;
      switch (level) {
        case 'root':
          return { store_id: storeId, level, ...(await rootDigest(db, storeId)) };
        case 'day':
          return { store_id: storeId, level, buckets: toTuples(await dayDigests(db, storeId)) };
        case 'hour':
          return { store_id: storeId, level, buckets: toTuples(await hourDigests(db, storeId, day!)) };
        case 'prefix':
          return { store_id: storeId, level, buckets: toTuples(await prefixDigests(db, storeId, bucket!)) };
      }
    },
  );

  app.get(
    PeerPath.events,
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Ids and payload hashes of the events in an hour (or in hour/prefix buckets)',
        description:
          'Give `hour` (an ISO instant: the UTC hour that contains it) or `bucket` (keys as returned by ' +
          `GET /sync/federation/merkle). Each item is [event_id, first ${WIRE_DIGEST_HEX} hex digits of full_payload_hash].`,
        security: [{ bearer: [] }],
        querystring: leavesQuerySchema,
        response: { 200: leavesResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { store_id: storeId, hour, bucket } = request.query;
      const leaves = await listLeaves(db, storeId, bucket ?? [hourKeyOf(new Date(hour!))]);
      return {
        store_id: storeId,
        events: leaves.map(([id, hash]): [string, string] => [id, hash.slice(0, WIRE_DIGEST_HEX)]),
      };
    },
  );

  app.post(
    PeerPath.fetch,
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Events of a store by id, as stored (for a reconciling peer to replay)',
        description: `At most ${FETCH_MAX_IDS} ids. Events come in causal relay order; ids this node does not hold are listed in \`missing\`.`,
        security: [{ bearer: [] }],
        body: fetchRequestSchema,
        response: { 200: fetchResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const storeId = request.body.store_id;
      const ids = [...new Set(request.body.event_ids.map((id) => id.toLowerCase()))];
      const rows = await fetchEvents(db, storeId, ids);
      const found = new Set(rows.map((r) => r.event_id));
      return {
        store_id: storeId,
        events: rows.map(toWireEvent),
        missing: ids.filter((id) => !found.has(id)),
      };
    },
  );

  app.get(
    PeerPath.debts,
    {
      config: { auth: ['peer', 'admin'] },
      schema: {
        tags: ['federation'],
        summary: "Digests of a store's debt states, for a peer's health report to compare with its own",
        description:
          "A debt's state is its total, remaining amount and payments (id and amount of each). level=root: " +
          'count and digest of every debt of the store. level=bucket: per bucket (the first two hex digits of ' +
          `the debt id) its debts and digest. level=debts&bucket=K[,K…] (≤ ${DEBT_BUCKETS_PER_REQUEST}): the ` +
          'debts of those buckets with their states. An unknown store has no debts.',
        security: [{ bearer: [] }],
        querystring: debtDigestQuerySchema,
        response: { 200: debtDigestResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { store_id: storeId, level, bucket } = request.query;
      switch (level) {
        case 'root':
          return { store_id: storeId, level, ...(await debtRootDigest(db, storeId)) };
        case 'bucket':
          return { store_id: storeId, level, buckets: toTuples(await debtBucketDigests(db, storeId)) };
        case 'debts':
          return { store_id: storeId, level, debts: await debtStates(db, storeId, bucket!) };
      }
    },
  );
};
