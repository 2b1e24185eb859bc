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
 */
function preparingPool(pool: pg.Pool) {
  return {
    async connect() {
      const client = await pool.connect();
      return {
        query(sqlOrCursor: unknown, parameters?: ReadonlyArray<unknown>) {
          if (typeof sqlOrCursor !== 'string' || !parameters || parameters.length === 0) {
            return client.query(sqlOrCursor as string, parameters as unknown[]);
          }
          return client.query({
            name: statementName(sqlOrCursor),
            text: sqlOrCursor,
            values: [...parameters],
          });
        },
        release: (destroy?: boolean) => client.release(destroy),
      } as unknown as pg.PoolClient;
    },
    end: () => pool.end(),
  };
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
