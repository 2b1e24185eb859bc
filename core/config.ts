import { z } from 'zod';

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

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  NODE_ID: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('local'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
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
  RATE_LIMIT_MAX: positiveInt(6000),
  RATE_LIMIT_WINDOW_MS: positiveInt(60_000),
  ORPHAN_HEALER_INTERVAL_SECONDS: positiveInt(60),
  ORPHAN_HEALER_BATCH: positiveInt(50),
  ORPHAN_HEALER_MAX_AGE_DAYS: positiveInt(7),
  /** PeerRelay: events per batch, idle poll (a lost nudge only delays this long), HTTP timeout. */
  RELAY_BATCH_SIZE: positiveInt(200),
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
  /** Which roles this process runs: the HTTP API, the Temporal worker, or both (npm start). */
  ROLES: z
    .string()
    .default('api,worker')
    .transform((s) => new Set(s.split(',').map((r) => r.trim())))
    .pipe(z.set(z.enum(['api', 'worker'])).min(1)),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Parses the environment once at boot; a bad setting stops the process with every problem named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
