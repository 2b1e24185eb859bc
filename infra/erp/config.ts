import { z } from 'zod';

// The ERP bridge's settings (docs/erp-bridge.md), spread into the node's one config schema
// (infra/config.ts) so they are parsed and frozen with the rest at boot.

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalSecret = (name: string) =>
  z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(16, `${name} must be at least 16 characters`).optional(),
  );

export const erpEnvShape = {
  /** Shared secret an ERP agent presents to register (unset: agents cannot register). */
  AGENT_SECRET: optionalSecret('AGENT_SECRET'),
  /** The seed's admin `X-API-Key`; unset: the node's ADMIN_SECRET. */
  API_SECRET: optionalSecret('API_SECRET'),
  /** Bearer token the node sends to agents (the seed's "token from config"); unset: AGENT_SECRET. */
  ERP_AGENT_CALL_TOKEN: optionalSecret('ERP_AGENT_CALL_TOKEN'),
  /** Optional webhook (Slack-compatible `{text}`) every ERP alert is posted to. */
  SLACK_WEBHOOK_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url().optional()),
  /** Agent status from the last heartbeat: online, then degraded after this, offline after that. */
  ERP_AGENT_DEGRADED_SECONDS: positiveInt(60),
  ERP_AGENT_OFFLINE_SECONDS: positiveInt(300),
  /** Mapping cache: entries and time to live (the seed: 10,000 and 5 minutes). */
  ERP_MAPPING_CACHE_MAX: positiveInt(10_000),
  ERP_MAPPING_CACHE_TTL_MS: positiveInt(5 * 60_000),
  /** Ingest limits (413 beyond): incremental and batch, items and bytes. */
  ERP_INGEST_MAX_ITEMS: positiveInt(500),
  ERP_INGEST_MAX_BYTES: positiveInt(5 * 1024 * 1024),
  ERP_BATCH_MAX_ITEMS: positiveInt(5000),
  ERP_BATCH_MAX_BYTES: positiveInt(10 * 1024 * 1024),
  /** Records per upsert statement (the seed: chunks of 50). */
  ERP_INGEST_CHUNK_SIZE: z.coerce.number().int().min(1).max(1000).default(50),
  /** Rate limits per minute (the seed's REQ-13): per agent for sync, per IP for registration, per key for admin. */
  ERP_RATE_LIMIT_SYNC: positiveInt(60),
  ERP_RATE_LIMIT_BATCH: positiveInt(10),
  ERP_RATE_LIMIT_HEARTBEAT: positiveInt(120),
  ERP_RATE_LIMIT_REGISTER: positiveInt(10),
  ERP_RATE_LIMIT_ADMIN: positiveInt(30),
  /** Calls to an agent: request timeout (the seed: 30 s). */
  ERP_AGENT_TIMEOUT_MS: positiveInt(30_000),
  /** Order delivery: attempts and the first backoff (doubling: 1m, 2m, 4m, 8m). */
  ERP_ORDER_MAX_ATTEMPTS: positiveInt(5),
  ERP_ORDER_BACKOFF_SECONDS: z.coerce.number().positive().default(60),
  /** How long a delivered order waits for the agent's callback before the attempt counts as failed. */
  ERP_CALLBACK_TIMEOUT_SECONDS: positiveInt(3600),
  /** How often the order sweep runs: POS sales of mapped stores → orders, unstarted jobs → workflows. */
  ERP_ORDER_SWEEP_SECONDS: positiveInt(60),
  /** A pending job without a workflow this old is started by the sweep (younger: its starter is on it). */
  ERP_ORDER_SWEEP_GRACE_SECONDS: z.coerce.number().nonnegative().default(30),
  /** Circuit breaker per vendor and API type (the seed's opossum settings). */
  ERP_BREAKER_ERROR_PERCENT: z.coerce.number().min(1).max(100).default(50),
  ERP_BREAKER_VOLUME: positiveInt(5),
  ERP_BREAKER_RESET_MS: positiveInt(60_000),
  /** Calls are counted over a rolling window of this length (then the counts start again). */
  ERP_BREAKER_WINDOW_MS: positiveInt(10 * 60_000),
  /** Reconciliation: a range at most this big is compared record by record. */
  ERP_RECONCILE_LEAF_SIZE: positiveInt(10),
  /** Turn the six periodic ERP schedules off (a node without ERP vendors); the order sweep stays. */
  ERP_SCHEDULES_ENABLED: z
    .enum(['true', 'false', '1', '0'], 'must be true or false')
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
};
