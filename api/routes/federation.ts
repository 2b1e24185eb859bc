import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { requirePeer } from '../../infra/peers/find-peer';
import { requireDeadLetter, retryDeadLetter } from '../../infra/relay/dead-letters';
import {
  listDeadLetters,
  resolveDeadLetter,
  type RelayDeadLetter,
} from '../../infra/repositories/relay-dead-letters';
import {
  configureRelay,
  RelayChangeRefusedError,
  RelayNoAnswerError,
  RelayNotRunningError,
  setRelayPaused,
} from '../../actors/relay';
import { relayReports, type RelayReport } from '../../actors/relay-status';
import type { RelaySettings, RelaySettingsPatch } from '../../workflows/relay';
import { ApiError, AppError } from '../../domain/errors';
import { errorResponseSchema, errorResponses } from '../errors';
import { storable } from '../text';

export interface FederationRoutesOptions {
  config: Config;
  db: Db;
  temporal?: Client;
}

const circuitSchema = z.object({
  state: z.enum(['CLOSED', 'OPEN', 'HALF_OPEN', 'UNKNOWN']),
  consecutive_failures: z.number().int().nullable(),
  last_error: z.string().nullable(),
  last_failure_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  opened_at: z.string().nullable(),
});

const peerStatusSchema = z.object({
  peer_id: z.string(),
  url: z.string(),
  workflow_id: z.string(),
  running: z.boolean(),
  paused: z.boolean().nullable(),
  cursor: z.number().int().nullable(),
  lag: z.object({
    events: z.number().int().nullable().describe('events committed here and not yet relayed to this peer'),
    oldest_received_at: z.string().nullable(),
    oldest_age_seconds: z.number().nullable(),
  }),
  circuit: circuitSchema,
  relayed_total: z.number().int().nullable(),
  dead_letters_open: z.number().int(),
  last_batch_at: z.string().nullable(),
  error: z.string().nullable().describe('why the actor could not be read (worker down, not started)'),
});

const deadLetterSchema = z.object({
  id: z.string(),
  peer_id: z.string(),
  event_id: z.string(),
  store_id: z.string(),
  node_seq: z.string(),
  type: z.string(),
  error_code: z.string(),
  error_message: z.string(),
  attempts: z.number().int(),
  status: z.enum(['open', 'resolved']),
  created_at: z.string(),
  updated_at: z.string(),
  resolved_at: z.string().nullable(),
  resolution: z.string().nullable(),
});

const pauseAnswerSchema = z.object({
  peer_id: z.string(),
  paused: z.boolean(),
  changed: z.boolean().describe('false when the relay was already so (the call is idempotent)'),
  cursor: z.number().int().describe('the relay cursor when the change took hold'),
});

const settingMs = z.number().int().positive();
const relaySettingsSchema = z.object({
  batch_size: z.number().int().positive(),
  poll_interval_ms: settingMs,
  http_timeout_ms: settingMs,
  backoff_base_ms: settingMs,
  backoff_max_ms: settingMs,
  failure_threshold: z.number().int().positive(),
  success_threshold: z.number().int().positive(),
  open_ms: settingMs,
});
/** The settings to change; what is left out stays. Unknown names are refused, so a typo is not a no-op. */
const relaySettingsPatchSchema = relaySettingsSchema.partial().strict();

function toSettingsPatch(b: z.infer<typeof relaySettingsPatchSchema>): RelaySettingsPatch {
  return {
    batchSize: b.batch_size,
    pollIntervalMs: b.poll_interval_ms,
    httpTimeoutMs: b.http_timeout_ms,
    backoffBaseMs: b.backoff_base_ms,
    backoffMaxMs: b.backoff_max_ms,
    circuit: {
      failureThreshold: b.failure_threshold,
      successThreshold: b.success_threshold,
      openMs: b.open_ms,
    },
  };
}

function fromSettings(s: RelaySettings): z.infer<typeof relaySettingsSchema> {
  return {
    batch_size: s.batchSize,
    poll_interval_ms: s.pollIntervalMs,
    http_timeout_ms: s.httpTimeoutMs,
    backoff_base_ms: s.backoffBaseMs,
    backoff_max_ms: s.backoffMaxMs,
    failure_threshold: s.circuit.failureThreshold,
    success_threshold: s.circuit.successThreshold,
    open_ms: s.circuit.openMs,
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A relay report as the status route answers it. */
function toPeerStatus(r: RelayReport, now: number): z.infer<typeof peerStatusSchema> {
  const { status, lag } = r;
  const c = status?.circuit;
  const oldest = lag?.oldestReceivedAt ?? null;
  return {
    peer_id: r.peer.id,
    url: r.peer.url,
    workflow_id: r.workflowId,
    running: status !== null,
    paused: status?.paused ?? null,
    cursor: status?.cursor ?? null,
    lag: {
      events: lag?.events ?? null,
      oldest_received_at: oldest?.toISOString() ?? null,
      oldest_age_seconds: oldest ? Math.round((now - oldest.getTime()) / 100) / 10 : null,
    },
    circuit: {
      state: c?.state ?? 'UNKNOWN',
      consecutive_failures: c?.consecutiveFailures ?? null,
      last_error: c?.lastError ?? null,
      last_failure_at: iso(c?.lastFailureAt ?? null),
      last_success_at: iso(c?.lastSuccessAt ?? null),
      opened_at: iso(c?.openedAt ?? null),
    },
    relayed_total: status?.totals.relayed ?? null,
    dead_letters_open: r.deadLettersOpen,
    last_batch_at: iso(status?.lastBatchAt ?? null),
    error: r.error,
  };
}

const toLetter = (d: RelayDeadLetter): z.infer<typeof deadLetterSchema> => ({
  ...d,
  id: String(d.id),
  node_seq: String(d.node_seq),
  created_at: d.created_at.toISOString(),
  updated_at: d.updated_at.toISOString(),
  resolved_at: d.resolved_at?.toISOString() ?? null,
});

const idParams = z.object({ id: z.coerce.number().int().positive() });

export const federationRoutes: FastifyPluginAsyncZod<FederationRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;
  const temporal = () => {
    if (!opts.temporal)
      throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');
    return opts.temporal;
  };
  const peerOf = (peerId: string) => requirePeer(config, peerId);

  app.get(
    '/sync/federation/status',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Relay state per peer: cursor, lag, circuit breaker, last error, dead letters',
        security: [{ bearer: [] }],
        response: {
          200: z.object({ node_id: z.string(), peers: z.array(peerStatusSchema) }),
          ...errorResponses,
        },
      },
    },
    async () => {
      const reports = await relayReports(opts.temporal, db, config);
      const now = Date.now();
      return { node_id: config.NODE_ID, peers: reports.map((r) => toPeerStatus(r, now)) };
    },
  );

  // Pause, resume and configure are updates of the relay: the answer says the change took hold.
  const relayChange = async <T>(change: () => Promise<T>): Promise<T> => {
    try {
      return await change();
    } catch (err) {
      if (err instanceof RelayNotRunningError) throw new AppError(409, ApiError.relayNotRunning, err.message);
      if (err instanceof RelayChangeRefusedError) {
        throw new AppError(400, ApiError.invalidRelaySettings, err.message);
      }
      if (err instanceof RelayNoAnswerError) throw new AppError(503, ApiError.relayUnavailable, err.message);
      throw err;
    }
  };
  const relayErrors = { ...errorResponses, 409: errorResponseSchema };

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/sync/federation/relays/:peer_id/${action}`,
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['federation'],
          summary:
            action === 'pause'
              ? 'Pause relaying to a peer (maintenance); answers once no batch is under way. Events wait, the cursor keeps its place'
              : 'Resume relaying to a peer',
          security: [{ bearer: [] }],
          params: z.object({ peer_id: z.string() }),
          response: { 200: pauseAnswerSchema, ...relayErrors },
        },
      },
      async (request) => {
        const peer = peerOf(request.params.peer_id);
        const answer = await relayChange(() =>
          setRelayPaused(temporal(), config.NODE_ID, peer.id, action === 'pause'),
        );
        return { peer_id: peer.id, ...answer };
      },
    );
  }

  app.post(
    '/sync/federation/relays/:peer_id/configure',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary: "Change some of a peer's relay settings until the next worker start",
        security: [{ bearer: [] }],
        params: z.object({ peer_id: z.string() }),
        body: relaySettingsPatchSchema,
        response: { 200: z.object({ peer_id: z.string(), settings: relaySettingsSchema }), ...relayErrors },
      },
    },
    async (request) => {
      const peer = peerOf(request.params.peer_id);
      const settings = await relayChange(() =>
        configureRelay(temporal(), config.NODE_ID, peer.id, toSettingsPatch(request.body)),
      );
      return { peer_id: peer.id, settings: fromSettings(settings) };
    },
  );

  app.get(
    '/admin/dead-letters',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Events a peer refused for good (they no longer block its relay)',
        security: [{ bearer: [] }],
        querystring: z.object({
          peer_id: storable(z.string()).optional(),
          status: z.enum(['open', 'resolved']).default('open'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ items: z.array(deadLetterSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const { peer_id, status, limit } = request.query;
      const rows = await listDeadLetters(db, { peerId: peer_id, status, limit });
      return { items: rows.map(toLetter) };
    },
  );

  app.post(
    '/admin/dead-letters/:id/retry',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Push a dead-lettered event to its peer again now; resolved if the peer takes it',
        security: [{ bearer: [] }],
        params: idParams,
        response: { 200: deadLetterSchema, ...errorResponses },
      },
    },
    async (request) => toLetter(await retryDeadLetter(db, config, request.params.id)),
  );

  app.post(
    '/admin/dead-letters/:id/resolve',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary: 'Mark a dead letter handled by hand (with a note of what was done)',
        security: [{ bearer: [] }],
        params: idParams,
        body: z.object({ note: storable(z.string().trim().min(1).max(2000)) }),
        response: { 200: deadLetterSchema, ...errorResponses },
      },
    },
    async (request) => {
      const letter = await requireDeadLetter(db, request.params.id);
      return toLetter(await resolveDeadLetter(db, letter.id, request.body.note));
    },
  );
};
