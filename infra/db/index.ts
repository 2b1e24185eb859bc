import { Kysely, Migrator, PostgresDialect, sql, type MigrationResultSet } from 'kysely';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../migrations';
import type { Config } from '../config';
import type { Database } from './schema';

export type Db = Kysely<Database>;

// bigint (int8) stays a string: node_seq and counters can exceed 2^53 in a long-lived log.
// numeric stays a string too (exact money); timestamptz becomes Date (pg default).

export interface DbOptions {
  poolSize?: number;
  /** Session settings sent at connect; 0 disables one (migrations run without a statement timeout). */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** How long a request waits for a pooled connection (connecting included) before it fails. */
  connectTimeoutMs?: number;
}

/** The pool settings a node's config asks for. */
export function dbOptions(
  config: Pick<
    Config,
    | 'DATABASE_POOL_SIZE'
    | 'DB_STATEMENT_TIMEOUT_MS'
    | 'DB_LOCK_TIMEOUT_MS'
    | 'DB_IDLE_IN_TX_TIMEOUT_MS'
    | 'DB_CONNECT_TIMEOUT_MS'
  >,
): DbOptions {
  return {
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TX_TIMEOUT_MS,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
  };
}

const DEFAULTS = {
  poolSize: 20,
  statementTimeoutMs: 15_000,
  lockTimeoutMs: 3000,
  idleInTransactionTimeoutMs: 30_000,
  connectTimeoutMs: 5000,
} satisfies Required<DbOptions>;

/** Migrations and maintenance jobs: one connection, no timeouts (an index build may take minutes). */
export const MAINTENANCE_DB_OPTIONS: DbOptions = {
  poolSize: 1,
  statementTimeoutMs: 0,
  lockTimeoutMs: 0,
  idleInTransactionTimeoutMs: 0,
};

export function createDb(databaseUrl: string, options: number | DbOptions = {}): Db {
  const o = { ...DEFAULTS, ...(typeof options === 'number' ? { poolSize: options } : options) };
  const { connectionString, options: urlOptions } = splitOptions(databaseUrl);
  // Startup parameters: the server applies them while opening the session, so they cost no round
  // trip; options given in DATABASE_URL come last and win.
  const startup = [
    `-c statement_timeout=${o.statementTimeoutMs}`,
    `-c lock_timeout=${o.lockTimeoutMs}`,
    `-c idle_in_transaction_session_timeout=${o.idleInTransactionTimeoutMs}`,
    urlOptions,
  ];
  const pool = new pg.Pool({
    connectionString,
    max: o.poolSize,
    options: startup.filter(Boolean).join(' '),
    connectionTimeoutMillis: o.connectTimeoutMs,
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor one that errors while checked out (PostgreSQL restarted, network cut): pg listens for errors
  // only on idle clients, so a client emits 'error' with nobody listening. The query in flight fails
  // with the same error (a 503), and the pool drops the client when it is released. The listener
  // goes on when the pool first hands the client out ('connect' is emitted before the pool takes its
  // idle listener off): a server shutting down as the session opens sends ReadyForQuery and FATAL
  // 57P01 in one segment, parsed in one go before any code awaiting the checkout could add it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
}

/**
 * pg lets `options` in the connection string replace the `options` it is given: take them out of
 * the URL so both apply.
 */
function splitOptions(databaseUrl: string): { connectionString: string; options?: string } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return { connectionString: databaseUrl };
  }
  const options = url.searchParams.get('options');
  if (options === null) return { connectionString: databaseUrl };
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options };
}

/**
 * Every parameterised statement runs as a named prepared statement, named by a hash of its text: the
 * server parses and analyses each statement shape once per connection instead of on every call (the
 * ingest path sends a dozen large statements per push). The number of shapes is small and fixed by
 * the code, so the per-connection cache stays small.
 *
 * A migration that changes a table's columns while this process runs (another process migrated, a
 * rolling deploy) leaves every pooled connection with prepared statements whose result shape is
 * stale: PostgreSQL refuses them ("cached plan must not change result type") for as long as the
 * connection lives. The first such error retires every connection opened before it: each is closed
 * when next checked out instead of being used, so the request that met the error fails once (ingest
 * retries it) and the following ones prepare afresh.
 */
function preparingPool(pool: pg.Pool) {
  let generation = 0;
  const bornIn = new WeakMap<pg.PoolClient, number>();
  return {
    async connect() {
      let client = await pool.connect();
      while ((bornIn.get(client) ?? generation) < generation) {
        client.release(true);
        client = await pool.connect();
      }
      if (!bornIn.has(client)) bornIn.set(client, generation);
      return {
        query(sqlOrCursor: unknown, parameters?: ReadonlyArray<unknown>) {
          if (typeof sqlOrCursor !== 'string' || !parameters || parameters.length === 0) {
            return client.query(sqlOrCursor as string, parameters as unknown[]);
          }
          return client
            .query({ name: statementName(sqlOrCursor), text: sqlOrCursor, values: [...parameters] })
            .catch((err: unknown) => {
              if (isStalePlan(err) && bornIn.get(client) === generation) generation += 1;
              throw err;
            });
        },
        release: (destroy?: boolean) => client.release(destroy),
      } as unknown as pg.PoolClient;
    },
    end: () => pool.end(),
  };
}

/** A prepared statement outlived a change to the columns it returns (see preparingPool). */
export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change')
  );
}

const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `k${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error));
  }
  return result;
}

/** One round trip to the server (liveness). */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`SELECT 1`.execute(db);
}
