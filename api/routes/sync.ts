import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { createIngestQueue } from '../../infra/eventlog/coalescer';
import { receivePush, type PushDeps } from '../../infra/eventlog/push';
import type { Metrics } from '../../infra/metrics';
import { listConflicts } from '../../infra/repositories/conflict-audit-log';
import { readFeed } from '../../infra/repositories/events';
import { ApiError, AppError } from '../../domain/errors';
import {
  PeerPath,
  pullQuerySchema,
  pullResponseSchema,
  pushEnvelopeSchema,
  pushResponseSchema,
} from '../../domain/wire/peer-protocol';
import { errorResponses } from '../errors';
import { assertStoreAccess, principalOf } from '../plugins/auth';

export interface SyncRoutesOptions {
  config: Config;
  db: Db;
  metrics: Metrics;
  /** Called after a push commits new events (wakes the relay actors); must not throw. */
  onEventsCommitted?: (storeIds: string[]) => void;
  onFiscalExhausted?: PushDeps['onFiscalExhausted'];
}

export const syncRoutes: FastifyPluginAsyncZod<SyncRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;
  // Pushes that arrive while a transaction is under way share the next one (group commit).
  const push = {
    ...opts,
    ingest: createIngestQueue(db, {
      lanes: config.INGEST_LANES,
      maxEvents: config.INGEST_MAX_EVENTS_PER_TRANSACTION,
    }),
  };

  app.post(
    PeerPath.push,
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
            ApiError.tooManyEvents,
            `events: ${events.length} events in one request; the limit is ${config.PUSH_MAX_EVENTS}, split the batch`,
          );
        }
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { store_id: storeId, device_id: deviceId } = request.body;
      assertStoreAccess(principal, storeId);
      if (principal.kind === 'device' && principal.deviceId !== deviceId.toLowerCase()) {
        throw new AppError(403, ApiError.forbidden, 'device_id: this token belongs to another device');
      }
      return receivePush(push, principal, request.body, request.log);
    },
  );

  app.get(
    PeerPath.pull,
    {
      config: { auth: ['device', 'peer', 'admin'] },
      schema: {
        tags: ['sync'],
        summary: "A store's change feed, in this node's commit order (node_seq)",
        description: 'Pass the last node_seq you hold as `since`; repeat with `next_since` while `has_more`.',
        security: [{ bearer: [] }],
        querystring: pullQuerySchema(config.PULL_MAX_LIMIT),
        response: { 200: pullResponseSchema, ...errorResponses },
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
