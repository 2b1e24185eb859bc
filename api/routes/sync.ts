import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import type { EventSource } from '../../infra/db/schema';
import { createIngestQueue } from '../../infra/eventlog/coalescer';
import { decodeEvent, type EventLimits, type EventRejection } from '../../domain/events/decode';
import {
  pushEnvelopeSchema,
  pushResponseSchema,
  storedEventSchema,
  type SyncEvent,
} from '../../domain/events/schemas';
import type { Metrics } from '../../infra/metrics';
import { listConflicts } from '../../infra/repositories/conflict-audit-log';
import { readFeed } from '../../infra/repositories/events';
import { declareStore, findStore } from '../../infra/repositories/stores';
import { AppError, errorResponses } from '../errors';
import { assertStoreAccess, principalOf, type Principal } from '../plugins/auth';

export interface SyncRoutesOptions {
  config: Config;
  db: Db;
  metrics: Metrics;
  /** Called after a push commits new events (wakes the relay actors); must not throw. */
  onEventsCommitted?: (storeIds: string[]) => void;
}

const pulledEventSchema = storedEventSchema.extend({ node_seq: z.number().int() });

function sourceOf(p: Principal): EventSource {
  return p.kind === 'peer' ? 'system-federation' : p.kind;
}

/**
 * Decodes each event of a push on its own and checks it belongs to the request's store (and, for a
 * device, to that device). What fails is listed with its position; the rest goes on to the log. Only
 * peers may carry an origin node and an ordering stamp: for anyone else this node is the origin.
 */
function admitEvents(raw: unknown[], principal: Principal, storeId: string, limits: EventLimits) {
  const events: SyncEvent[] = [];
  const positions: number[] = [];
  const rejected: EventRejection[] = [];
  raw.forEach((value, index) => {
    const decoded = decodeEvent(value, index, limits);
    if (!decoded.ok) return rejected.push(decoded.rejection);
    const e = decoded.event;
    if (e.store_id !== storeId) {
      return rejected.push({
        index,
        event_id: e.event_id,
        code: 'STORE_MISMATCH',
        message: `events.${index}.store_id: differs from the request's store_id`,
      });
    }
    if (principal.kind === 'device' && e.device_id.toLowerCase() !== principal.deviceId) {
      return rejected.push({
        index,
        event_id: e.event_id,
        code: 'DEVICE_MISMATCH',
        message: `events.${index}.device_id: a device may only push its own events`,
      });
    }
    if (principal.kind !== 'peer') {
      const { origin_node: _origin, hlc: _hlc, ...own } = e;
      events.push(own as SyncEvent);
    } else {
      events.push(e);
    }
    positions.push(index);
  });
  return { events, positions, rejected };
}

export const syncRoutes: FastifyPluginAsyncZod<SyncRoutesOptions> = async (app, opts) => {
  // Pushes that arrive while a transaction is under way share the next one (group commit).
  const ingest = createIngestQueue(opts.db, {
    lanes: opts.config.INGEST_LANES,
    maxEvents: opts.config.INGEST_MAX_EVENTS_PER_TRANSACTION,
  });
  const { config, db, metrics } = opts;

  const limits = {
    maxBytes: config.EVENT_MAX_BYTES,
    maxDepth: config.EVENT_MAX_DEPTH,
    maxClockEntries: config.EVENT_MAX_CLOCK_ENTRIES,
    minCreatedAt: config.EVENT_MIN_CREATED_AT,
    maxCreatedAt: config.EVENT_MAX_CREATED_AT,
  };

  app.post(
    '/sync/push',
    {
      config: { auth: ['device', 'peer', 'admin'] },
      schema: {
        tags: ['sync'],
        summary: 'Push events (from a device, a peer node or an admin)',
        description:
          `One transaction per request. A bad envelope (store_id, device_id, events) is a 400; each bad ` +
          `event is listed in \`rejected\` with its index, code and field, and the valid events of the same ` +
          `request are accepted. Duplicates (same event_id, envelope and payload) are acknowledged; a known ` +
          `event_id with a different envelope or payload is rejected with EVENT_ID_CONFLICT. At most ` +
          `${config.PUSH_MAX_EVENTS} events and ${config.PUSH_MAX_BYTES} bytes per request (413 beyond), ` +
          `${config.EVENT_MAX_BYTES} bytes and ${config.EVENT_MAX_DEPTH} levels of nesting per event.`,
        security: [{ bearer: [] }],
        body: pushEnvelopeSchema,
        response: { 200: pushResponseSchema, ...errorResponses },
      },
      preValidation: async (request) => {
        const events = (request.body as { events?: unknown } | undefined)?.events;
        if (Array.isArray(events) && events.length > config.PUSH_MAX_EVENTS) {
          throw new AppError(
            413,
            'TOO_MANY_EVENTS',
            `events: ${events.length} events in one request; the limit is ${config.PUSH_MAX_EVENTS}, split the batch`,
          );
        }
      },
    },
    async (request, reply) => {
      const started = process.hrtime.bigint();
      const principal = principalOf(request);
      const { store_id: storeId, device_id: deviceId, events: raw } = request.body;
      assertStoreAccess(principal, storeId);
      if (principal.kind === 'device' && principal.deviceId !== deviceId.toLowerCase()) {
        throw new AppError(403, 'FORBIDDEN', 'device_id: this token belongs to another device');
      }
      if (principal.kind === 'peer') {
        // A peer serves the same stores: declare the store here if this node has not seen it yet.
        await declareStore(db, { id: storeId, name: `store ${storeId}` });
      } else if (principal.kind === 'admin' && !(await findStore(db, storeId))) {
        throw new AppError(404, 'STORE_NOT_FOUND', `store_id: no store ${storeId} on this node`);
      }
      const { events, positions, rejected } = admitEvents(raw, principal, storeId, limits);

      const result = await ingest.ingest(
        events,
        {
          nodeId: config.NODE_ID,
          source: sourceOf(principal),
          sourcePeer: principal.kind === 'peer' ? principal.peerId : null,
          maxSkewMs: config.HLC_MAX_SKEW_MS,
        },
        request.log,
      );
      for (const r of result.rejected) rejected.push({ ...r, index: positions[r.index]! });
      rejected.sort((a, b) => a.index - b.index);

      metrics.pushEvents.inc({ outcome: 'accepted' }, result.accepted.length);
      metrics.pushEvents.inc({ outcome: 'duplicate' }, result.duplicates.length);
      metrics.pushEvents.inc({ outcome: 'rejected' }, rejected.length);
      metrics.hashMismatches.inc(result.rejected.length);
      metrics.conflictsResolved.inc(result.conflictsAudited);
      for (const f of result.projectionFailures) {
        metrics.projectionFailures.inc({ type: f.type });
        request.log.warn(
          { event_id: f.event_id, type: f.type, error: f.error },
          'event stored, projection failed',
        );
      }
      if (rejected.length > 0) {
        request.log.info(
          {
            rejected: rejected
              .slice(0, 10)
              .map((r) => ({ index: r.index, code: r.code, message: r.message })),
          },
          'events rejected',
        );
      }
      if (result.stores.length > 0) opts.onEventsCommitted?.(result.stores);
      metrics.pushDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.pushRequests.inc({ source: principal.kind, status: '200' });
      return reply.send({
        accepted: result.accepted,
        duplicates: result.duplicates,
        rejected,
        last_node_seq: result.lastNodeSeq,
      });
    },
  );

  app.get(
    '/sync/pull',
    {
      config: { auth: ['device', 'peer', 'admin'] },
      schema: {
        tags: ['sync'],
        summary: "A store's change feed, in this node's commit order (node_seq)",
        description: 'Pass the last node_seq you hold as `since`; repeat with `next_since` while `has_more`.',
        security: [{ bearer: [] }],
        querystring: z.object({
          store_id: z.guid(),
          since: z.coerce.number().int().min(0).default(0),
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(config.PULL_MAX_LIMIT)
            .default(Math.min(500, config.PULL_MAX_LIMIT)),
        }),
        response: {
          200: z.object({
            events: z.array(pulledEventSchema),
            next_since: z.number().int(),
            has_more: z.boolean(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { store_id, since, limit } = request.query;
      assertStoreAccess(principalOf(request), store_id);
      const rows = await readFeed(db, store_id, since, limit);
      const page = rows.slice(0, limit);
      const events = page.map((r) => ({
        ...r,
        node_seq: Number(r.node_seq),
        seq: Number(r.seq),
        created_at: r.created_at.toISOString(),
        hlc: r.hlc.toISOString(),
        delta_payload: r.delta_payload ?? null,
      }));
      return {
        events,
        next_since: events.length > 0 ? events[events.length - 1]!.node_seq : since,
        has_more: rows.length > limit,
      };
    },
  );

  const dateParam = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
  app.get(
    '/sync/conflicts/audit',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['sync'],
        summary: 'Concurrent writes resolved automatically (last-writer-wins), with winner and losers',
        security: [{ bearer: [] }],
        querystring: z.object({
          store_id: z.guid(),
          from: dateParam.optional(),
          to: dateParam.optional().describe('a date means the end of that day (inclusive)'),
          limit: z.coerce.number().int().min(1).max(5000).default(1000),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                store_id: z.string(),
                entity_type: z.string(),
                entity_id: z.string().nullable(),
                field: z.string().nullable(),
                strategy: z.string(),
                winner_event_id: z.string(),
                loser_event_ids: z.array(z.string()),
                winner_payload: z.unknown(),
                loser_payloads: z.unknown(),
                resolved_at: z.string(),
                resolved_by: z.string(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { store_id, from, to, limit } = request.query;
      const end = to && /^\d{4}-\d{2}-\d{2}$/.test(to) ? new Date(Date.parse(to) + 86_400_000) : to;
      const rows = await listConflicts(db, store_id, {
        from: from ? new Date(from) : undefined,
        to: end ? new Date(end) : undefined,
        limit,
      });
      return { items: rows.map((r) => ({ ...r, resolved_at: r.resolved_at.toISOString() })) };
    },
  );
};
