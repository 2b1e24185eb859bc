import { randomBytes } from 'node:crypto';
import { TableNode, type KyselyPlugin } from 'kysely';
import pg from 'pg';
import { createDb, migrateToLatest, type Db } from '../../infra/db';

/** The server every test database lives on (set by the global setup). */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  db: Db;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, dropped at the end. */
export async function createTestDatabase(prefix = 'test', server = serverUrl()): Promise<TestDatabase> {
  const name = `velox_${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, name);
  const db = createDb(url, 10);
  await migrateToLatest(db);
  return {
    db,
    url,
    name,
    async drop() {
      await db.destroy();
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Counts the SELECTs on `table` that a database handle really ran (counted when the result comes
 * back from PostgreSQL), whatever code path issued them: `wrap` a handle, read `counter.reads`.
 */
export function countTableReads(table: string) {
  const marked = new WeakSet<object>();
  const counter = { reads: 0 };
  const plugin: KyselyPlugin = {
    transformQuery({ node, queryId }) {
      if (
        node.kind === 'SelectQueryNode' &&
        node.from?.froms.some((f) => TableNode.is(f) && f.table.identifier.name === table)
      ) {
        marked.add(queryId);
      }
      return node;
    },
    async transformResult({ result, queryId }) {
      if (marked.has(queryId)) counter.reads += 1;
      return result;
    },
  };
  return { counter, wrap: (db: Db) => db.withPlugin(plugin) };
}
