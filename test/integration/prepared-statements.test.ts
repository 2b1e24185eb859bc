import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { createDb, isStalePlan, type Db } from '../../infra/db';
import { createTestDatabase, type TestDatabase } from '../support/db';

// Named prepared statements (infra/db) outlive a migration run by another process: the connections
// that cached them must be replaced, not kept failing.
describe('prepared statements across a schema change', () => {
  let t: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    t = await createTestDatabase('prepared');
    db = createDb(t.url, 2);
  });
  afterAll(async () => {
    await db.destroy();
    await t.drop();
  });

  const readStore = (id: string) =>
    sql<Record<string, unknown>>`SELECT * FROM stores WHERE id = ${id}`.execute(db).then((r) => r.rows[0]);

  it('fails once after another process adds a column, then prepares afresh on new connections', async () => {
    const id = randomUUID();
    await db.insertInto('stores').values({ id, name: 'Corner shop' }).execute();
    // Both pooled connections prepare the statement.
    await Promise.all([readStore(id), readStore(id)]);
    expect(Object.keys((await readStore(id))!)).not.toContain('region');

    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    await other.query(`ALTER TABLE stores ADD COLUMN region text NOT NULL DEFAULT 'north'`);
    await other.end();

    const first = await readStore(id).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isStalePlan(first)).toBe(true);
    // Every connection opened before the error is retired: both reads below run on new ones.
    const [a, b] = await Promise.all([readStore(id), readStore(id)]);
    expect(a).toMatchObject({ id, name: 'Corner shop', region: 'north' });
    expect(b).toMatchObject({ id, region: 'north' });
  });
});
