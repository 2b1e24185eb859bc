import { z } from 'zod';
import { issueDetails } from '../domain/errors';
import { erpEnvShape } from './erp/config';

const peerSchema = z.object({
  id: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/, 'peer id: letters, digits, _ . - only'),
  url: z.url(),
  token: z.string().min(16, 'peer token must be at least 16 characters'),
});
export type PeerConfig = z.infer<typeof peerSchema>;

const jsonArray = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array' });
    return z.NEVER;
  }
});

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], 'must be true or false')
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** Device tokens start with this; admin and peer secrets may not, so a token names one kind of caller. */
const DEVICE_TOKEN_PREFIX = 'vxd_';

const envSchema = z.object({
  NODE_ID: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('local'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  /**
   * A worker-only process (ROLES=worker) serves GET /metrics and /healthz on this port, on HOST
   * (9464, the usual Prometheus exporter port; 0 = no listener). With the API in the same process
   * the worker's metrics are on the API's /metrics instead and this is not used.
   */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /**
   * A client that holds a connection without finishing its request (slowloris, a body that stalls)
   * is cut off: the headers must arrive within the first, the whole request (headers and body)
   * within the second (408, connection closed). The request budget covers an ERP agent's 10 MB
   * batch on a slow uplink and a relay batch from a loaded peer; the handler's own work after the
   * body has arrived is not counted. An idle keep-alive connection is closed after the third
   * (above the 60 s idle timeout of common load balancers, so they never reuse a closed one).
   */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(120_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(65_000),
  DATABASE_URL: z.string().min(1),
  DATABASE_POOL_SIZE: positiveInt(20),
  /**
   * Set on every pooled connection at connect (startup parameters, no extra round trip): a stuck
   * lock or statement makes a request fail fast with a retryable 503 instead of hanging, and a
   * transaction left idle (a hung client) gives its locks back. 0 disables one.
   */
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(15_000),
  DB_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).default(3000),
  DB_IDLE_IN_TX_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  /** Wait at most this long for a pooled connection (PostgreSQL down or unreachable → 503). */
  DB_CONNECT_TIMEOUT_MS: positiveInt(5000),
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('velox'),
  ADMIN_SECRET: z.string().min(16, 'ADMIN_SECRET must be at least 16 characters'),
  PEERS: jsonArray.pipe(z.array(peerSchema)).default([]),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUSH_MAX_EVENTS: positiveInt(500),
  PUSH_MAX_BYTES: positiveInt(5 * 1024 * 1024),
  PULL_MAX_LIMIT: positiveInt(1000),
  /** One event: serialised bytes, nesting depth, vector-clock entries (beyond: rejected by itself). */
  EVENT_MAX_BYTES: positiveInt(64 * 1024),
  EVENT_MAX_DEPTH: positiveInt(32),
  EVENT_MAX_CLOCK_ENTRIES: positiveInt(256),
  /** The window of a device's created_at; later clocks inside it are accepted and bounded (HLC). */
  EVENT_MIN_CREATED_AT: z.coerce.date().default(new Date('2000-01-01T00:00:00Z')),
  EVENT_MAX_CREATED_AT: z.coerce.date().default(new Date('2200-01-01T00:00:00Z')),
  /** Group commit of pushes: transactions under way at once, events gathered into one at most. */
  INGEST_LANES: positiveInt(2),
  INGEST_MAX_EVENTS_PER_TRANSACTION: positiveInt(500),
  /** How far ahead of this node's clock an event's ordering stamp may run. */
  HLC_MAX_SKEW_MS: positiveInt(5 * 60_000),
  RATE_LIMIT_MAX: positiveInt(6000),
  RATE_LIMIT_WINDOW_MS: positiveInt(60_000),
  /**
   * Refused credentials per client address per window; beyond, that address gets 429 for any token
   * not already known good, before any database lookup.
   */
  AUTH_FAIL_MAX: positiveInt(20),
  AUTH_FAIL_WINDOW_MS: positiveInt(60_000),
  /**
   * A device token found valid is trusted this long without a lookup (0 = look up every request).
   * Revoking or rotating takes effect at once in the process that did it and within this TTL in
   * other API replicas.
   */
  AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).default(2000),
  /**
   * /healthz reuses its PostgreSQL and Temporal probes for this long (0 = probe every request), so a
   * flood of /healthz costs each dependency one call per window; an outage still shows within it.
   */
  HEALTHZ_PROBE_CACHE_MS: z.coerce.number().int().min(0).default(1000),
  /** Entries in each auth cache (known-good tokens, known-bad tokens, client failure counters). */
  AUTH_CACHE_MAX: positiveInt(10_000),
  /**
   * Fastify `trustProxy`: empty = off (the client address is the socket's), `true` (trust every
   * hop), or comma-separated proxy addresses/CIDRs. Set it behind a load balancer so the
   * per-address failed-authentication budget sees the real client.
   */
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((s): boolean | string[] => {
      const v = s.trim();
      if (v === '' || v === 'false') return false;
      if (v === 'true') return true;
      return v
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
    }),
  /** Serve the OpenAPI UI and document at /docs. */
  DOCS_ENABLED: flag(true),
  /** HealthMonitor: one snapshot per store per tick; alerts on transitions; history kept this long. */
  HEALTH_MONITOR_INTERVAL_SECONDS: positiveInt(300),
  /** A peer unreachable this long raises FEDERATION_OFFLINE. */
  FEDERATION_OFFLINE_AFTER_SECONDS: positiveInt(300),
  HEALTH_SNAPSHOT_RETENTION_DAYS: positiveInt(30),
  /** Retention, pruned by the HealthMonitor: audit rows, resolved dead letters, closed alerts (the event log is kept). */
  CONFLICT_AUDIT_RETENTION_DAYS: positiveInt(90),
  DEAD_LETTER_RETENTION_DAYS: positiveInt(30),
  ALERT_RETENTION_DAYS: positiveInt(90),
  /** ProjectionSelfCheck schedule: every store's read models rebuilt from its log and compared. */
  SELF_CHECK_INTERVAL_HOURS: positiveInt(24),
  /** AlertDelivery: first retry after this, doubling up to the maximum, until the webhook answers 2xx. */
  ALERT_RETRY_INITIAL_MS: positiveInt(5000),
  ALERT_RETRY_MAX_MS: positiveInt(15 * 60_000),
  /** Where the POS page's bundle is (scripts/build-pos.ts writes it), served at /pos. */
  POS_DIR: z.string().min(1).default('dist/pos'),
  /** Where the dashboard's bundle is (scripts/build-dashboard.ts writes it), served at /dashboard. */
  DASHBOARD_DIR: z.string().min(1).default('dist/dashboard'),
  ORPHAN_HEALER_INTERVAL_SECONDS: positiveInt(60),
  ORPHAN_HEALER_BATCH: positiveInt(50),
  ORPHAN_HEALER_MAX_AGE_DAYS: positiveInt(7),
  /** PeerRelay: events per batch, idle poll (a lost nudge only delays this long), HTTP timeout. */
  RELAY_BATCH_SIZE: positiveInt(200),
  /**
   * And at most this many bytes of events per batch (one event always goes, whatever its size): a run
   * of big events must stay under the peers' PUSH_MAX_BYTES and far from V8's string limit.
   */
  RELAY_BATCH_MAX_BYTES: positiveInt(1024 * 1024),
  RELAY_POLL_INTERVAL_MS: positiveInt(5000),
  RELAY_HTTP_TIMEOUT_MS: positiveInt(10_000),
  /** Circuit breaker: consecutive failures to open, open period, half-open successes to close. */
  RELAY_FAILURE_THRESHOLD: positiveInt(5),
  RELAY_OPEN_MS: positiveInt(60_000),
  RELAY_SUCCESS_THRESHOLD: positiveInt(3),
  /** Backoff between failed attempts while the circuit is still closed (doubles up to the max). */
  RELAY_BACKOFF_BASE_MS: positiveInt(1000),
  RELAY_BACKOFF_MAX_MS: positiveInt(30_000),
  /**
   * Each API process signals a peer's relay at most once per this many ms (signals cost history).
   * 100, not 25 (bench:replication): under steady pushes a quarter of the signals and half the
   * history, so fewer continue-as-new, each less likely to meet a signal (which costs a full
   * replay); p50 about the same.
   */
  RELAY_NUDGE_COALESCE_MS: positiveInt(100),
  /** ReconcileSweep: every store with every peer, this often; ids per pull/push step; reconciles at once. */
  RECONCILE_SWEEP_INTERVAL_SECONDS: positiveInt(600),
  RECONCILE_CHUNK_SIZE: z.coerce.number().int().min(1).max(1000).default(500),
  RECONCILE_SWEEP_CONCURRENCY: positiveInt(2),
  /** Escrow (docs/escrow.md): a quota's life when the request names no expiry, and the longest allowed. */
  ESCROW_DEFAULT_TTL_SECONDS: positiveInt(4 * 3600),
  ESCROW_MAX_TTL_SECONDS: positiveInt(24 * 3600),
  /** The most of the stock not held by other devices that one device may hold in quotas. */
  ESCROW_DEVICE_SHARE: z.coerce.number().gt(0).max(1).default(0.3),
  /** The oversell detector's schedule: negative stock per product and warehouse, this often. */
  OVERSELL_DETECTOR_INTERVAL_SECONDS: positiveInt(300),
  /** Fiscal ranges (docs/fiscal.md): a device range's life, its default and largest size. */
  FISCAL_RANGE_TTL_SECONDS: positiveInt(24 * 3600),
  FISCAL_RANGE_DEFAULT_SIZE: positiveInt(50),
  FISCAL_RANGE_MAX_SIZE: positiveInt(1000),
  /** Numbers per block a series' home node grants a node, and the free count that asks for the next. */
  FISCAL_BLOCK_SIZE: positiveInt(1000),
  FISCAL_BLOCK_LOW_WATER: z.coerce.number().int().min(0).default(200),
  /**
   * Home node of a series first seen in a reservation; empty = the smallest id among this node and
   * its peers. Set it to the same node on every node when not every node peers with every other.
   */
  FISCAL_HOME_NODE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]*$/)
    .default('')
    .transform((s) => s || null),
  /** Which roles this process runs: the HTTP API, the Temporal worker, or both (npm start). */
  ROLES: z
    .string()
    .default('api,worker')
    .transform((s) => new Set(s.split(',').map((r) => r.trim())))
    .pipe(z.set(z.enum(['api', 'worker'])).min(1)),
  ...erpEnvShape,
});

/** Settings that are valid one by one but ambiguous together. */
function checkCredentials(c: z.infer<typeof envSchema>, ctx: z.RefinementCtx): void {
  // A token must name exactly one caller: the auth check tries admin, then peers, then devices,
  // so any overlap would silently hand one caller another's rights.
  if (c.ADMIN_SECRET.startsWith(DEVICE_TOKEN_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['ADMIN_SECRET'],
      message: `must not start with "${DEVICE_TOKEN_PREFIX}" (reserved for device tokens)`,
    });
  }
  // An ERP agent's registration secret must not also be a node credential.
  if (
    c.AGENT_SECRET !== undefined &&
    (c.AGENT_SECRET === c.ADMIN_SECRET || c.AGENT_SECRET === c.API_SECRET)
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['AGENT_SECRET'],
      message: 'must differ from ADMIN_SECRET and API_SECRET (agents would be admins)',
    });
  }
  // Node refuses a headers timeout above the request timeout (the request includes its headers).
  if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_HEADERS_TIMEOUT_MS'],
      message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (the request includes its headers)',
    });
  }
  const byToken = new Map<string, string>();
  const ids = new Set<string>();
  c.PEERS.forEach((peer, i) => {
    if (ids.has(peer.id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PEERS', i, 'id'],
        message: `peer id "${peer.id}" is listed twice`,
      });
    }
    ids.add(peer.id);
    if (peer.id === c.NODE_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['PEERS', i, 'id'],
        message: `peer "${peer.id}" is this node's own NODE_ID; a node does not peer with itself`,
      });
    }
    if (peer.token === c.ADMIN_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['PEERS', i, 'token'],
        message: `peer "${peer.id}" has the same token as ADMIN_SECRET, which would make that peer an admin; give it its own secret`,
      });
    }
    if (peer.token.startsWith(DEVICE_TOKEN_PREFIX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PEERS', i, 'token'],
        message: `peer "${peer.id}": token must not start with "${DEVICE_TOKEN_PREFIX}" (reserved for device tokens)`,
      });
    }
    const other = byToken.get(peer.token);
    if (other !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['PEERS', i, 'token'],
        message: `peers "${other}" and "${peer.id}" share one token, so a push could not say which peer sent it; give each pair its own`,
      });
    } else {
      byToken.set(peer.token, peer.id);
    }
  });
}

export const configSchema = envSchema.superRefine(checkCredentials);

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Parses the environment once at boot; a bad setting stops the process with every problem named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = issueDetails(parsed.error.issues).map((d) => `  ${d.path || '(env)'}: ${d.message}`);
    throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
