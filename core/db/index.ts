import { Kysely, Migrator, PostgresDialect, type MigrationResultSet } from 'kysely';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../migrations';
import type { Database } from './schema';

export type Db = Kysely<Database>;

// bigint (int8) stays a string: node_seq and counters can exceed 2^53 in a long-lived log.
// numeric stays a string too (exact money); timestamptz becomes Date (pg default).

export function createDb(databaseUrl: string, poolSize = 20): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
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
