import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Log } from '../log';
import type { Db } from '../db';
import { PROJECTION_TABLES } from '../db/schema';
import { movementTotalsCheck } from '../repositories/consistency';
import { applyStock, fromRows, newSink, projectWithFallback } from './index';

// The projection self-check (docs/health.md): a store's read models rebuilt from its event log in a
// scratch schema (dropped at the end), page by page, and compared row by row with the live tables. The rules are convergent (any order, any batching gives the same rows), so a difference
// means a row was changed behind the node's back or a projection went wrong.

export interface TableDifference {
  table: string;
  /** Rows of the live table the rebuild does not have (changed or extra), as JSON. */
  onlyLive: unknown[];
  /** Rows of the rebuild the live table does not have (changed or missing). */
  onlyRebuilt: unknown[];
  /** Rows differing in all (the examples above are capped). */
  count: number;
}

export interface SelfCheckResult {
  storeId: string;
  events: number;
  differences: number;
  tables: TableDifference[];
  durationMs: number;
}

const PAGE = 1000;
const EXAMPLES = 10;

export async function selfCheckStore(db: Db, log: Log, storeId: string): Promise<SelfCheckResult> {
  const started = Date.now();
  const scratch = `selfcheck_${randomBytes(6).toString('hex')}`;
  await sql`CREATE SCHEMA ${sql.id(scratch)}`.execute(db);
  try {
    for (const t of PROJECTION_TABLES) {
      await sql`CREATE TABLE ${sql.id(scratch, t)} (LIKE ${sql.id('public', t)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`.execute(
        db,
      );
    }
    // One transaction per page: a projection takes a lock per entity, and a whole log's worth in one
    // transaction would exhaust PostgreSQL's lock table.
    let events = 0;
    let after = '0';
    for (;;) {
      const page = await db.transaction().execute(async (trx) => {
        // Projections name their tables unqualified: with the scratch schema first they write there
        // and still read the event log (and anything else) from public.
        await sql`SELECT set_config('search_path', ${`${scratch}, public`}, true)`.execute(trx);
        const rows = await trx
          .selectFrom('public.events' as 'events')
          .select([
            'node_seq',
            'event_id',
            'store_id',
            'device_id',
            'type',
            'payload',
            'vector_clock',
            'created_at',
            'hlc',
            'origin_node',
            'actor_user_id',
          ])
          .where('store_id', '=', storeId)
          .where('node_seq', '>', after)
          .orderBy('node_seq')
          .limit(PAGE)
          .execute();
        if (rows.length === 0) return 0;
        after = rows[rows.length - 1]!.node_seq;
        const { events: decoded } = fromRows(rows);
        const sink = newSink();
        await projectWithFallback(trx, decoded, sink, log);
        await applyStock(trx, sink);
        return rows.length;
      });
      if (page === 0) break;
      events += page;
    }
    const tables: TableDifference[] = [];
    for (const t of PROJECTION_TABLES) {
      const live = sql`SELECT to_jsonb(x) AS row FROM ${sql.id('public', t)} x WHERE x.store_id = ${storeId}`;
      const rebuilt = sql`SELECT to_jsonb(x) AS row FROM ${sql.id(scratch, t)} x WHERE x.store_id = ${storeId}`;
      const diff = await sql<{ side: 'live' | 'rebuilt'; row: unknown; total: string }>`
        WITH l AS (${live} EXCEPT ALL ${rebuilt}), r AS (${rebuilt} EXCEPT ALL ${live}),
        d AS (SELECT 'live' AS side, row FROM l UNION ALL SELECT 'rebuilt', row FROM r)
        SELECT side, row, count(*) OVER () AS total FROM d LIMIT ${EXAMPLES * 2}`.execute(db);
      if (diff.rows.length === 0) continue;
      tables.push({
        table: t,
        onlyLive: diff.rows
          .filter((r) => r.side === 'live')
          .map((r) => r.row)
          .slice(0, EXAMPLES),
        onlyRebuilt: diff.rows
          .filter((r) => r.side === 'rebuilt')
          .map((r) => r.row)
          .slice(0, EXAMPLES),
        count: Number(diff.rows[0]!.total),
      });
    }
    // The health report trusts the trigger-kept movement totals; here every movement is summed again.
    const totals = await movementTotalsCheck(db, storeId, EXAMPLES);
    if (totals.count > 0)
      tables.push({
        table: 'stock_movement_totals',
        onlyLive: totals.rows.map(({ movements: _m, ...t }) => t),
        onlyRebuilt: totals.rows.map(({ total: _t, ...m }) => m),
        count: totals.count,
      });
    return {
      storeId,
      events,
      differences: tables.reduce((n, t) => n + t.count, 0),
      tables,
      durationMs: Date.now() - started,
    };
  } finally {
    // Nothing of the rebuild is kept.
    await sql`DROP SCHEMA IF EXISTS ${sql.id(scratch)} CASCADE`.execute(db);
  }
}
