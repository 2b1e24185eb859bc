import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, RelayDeadLettersTable } from '../db/schema';
import { columnList, recordset, type ColumnMap } from './recordset';

// Events a peer refused for good, per peer: set aside by the relay so they never block the rest,
// listed, retried and resolved by an operator. Keyed by (peer_id, event_id); the store is recorded
// but the table is read across stores (an operator works a peer's dead letters as one queue).

export type RelayDeadLetter = Selectable<RelayDeadLettersTable>;
type Executor = Db | Transaction<Database>;

export interface NewRelayDeadLetter {
  event_id: string;
  store_id: string;
  node_seq: string;
  type: string;
  error_code: string;
  error_message: string;
}

const DEAD_LETTER_COLUMNS = {
  peer_id: 'text',
  event_id: 'uuid',
  store_id: 'uuid',
  node_seq: 'bigint',
  type: 'text',
  error_code: 'text',
  error_message: 'text',
} as const satisfies ColumnMap<RelayDeadLettersTable>;

/** Longest error text kept per letter: a peer's error page must not bloat the table. */
const MAX_MESSAGE = 2000;

/**
 * Records events the peer refused. An event refused again (a retry after a resolve, a relay that
 * re-read the log) reopens its letter with the new error and one more attempt.
 */
export async function recordDeadLetters(
  db: Executor,
  peerId: string,
  letters: NewRelayDeadLetter[],
): Promise<void> {
  if (letters.length === 0) return;
  // One row per event (the latest error): an upsert may not touch the same row twice.
  const byEvent = new Map(letters.map((l) => [l.event_id, l]));
  const rows = [...byEvent.values()].map((l) => ({
    ...l,
    peer_id: peerId,
    error_message: l.error_message.slice(0, MAX_MESSAGE),
  }));
  const cols = columnList(DEAD_LETTER_COLUMNS);
  await sql`
    INSERT INTO relay_dead_letters (${cols})
    SELECT ${cols} FROM ${recordset(DEAD_LETTER_COLUMNS, rows)}
    ON CONFLICT (peer_id, event_id) DO UPDATE SET
      error_code = excluded.error_code, error_message = excluded.error_message, status = 'open',
      attempts = relay_dead_letters.attempts + 1, updated_at = now(), resolved_at = NULL, resolution = NULL`.execute(
    db,
  );
}

/** Open letters per peer id (peers without any are absent). */
export async function countOpenDeadLetters(db: Executor): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('relay_dead_letters')
    .select(['peer_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('status', '=', 'open')
    .groupBy('peer_id')
    .execute();
  return new Map(rows.map((r) => [r.peer_id, Number(r.n)]));
}

export function listDeadLetters(
  db: Executor,
  filter: { peerId?: string; status: 'open' | 'resolved'; limit: number },
): Promise<RelayDeadLetter[]> {
  let q = db.selectFrom('relay_dead_letters').selectAll().where('status', '=', filter.status);
  if (filter.peerId) q = q.where('peer_id', '=', filter.peerId);
  return q.orderBy('id').limit(filter.limit).execute();
}

export function findDeadLetter(db: Executor, id: string): Promise<RelayDeadLetter | undefined> {
  return db.selectFrom('relay_dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Closes a letter with a note of how (accepted on retry, or what an operator did by hand). */
export function resolveDeadLetter(db: Executor, id: string, resolution: string): Promise<RelayDeadLetter> {
  return db
    .updateTable('relay_dead_letters')
    .set({ status: 'resolved', resolved_at: new Date(), resolution, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A retry the peer refused again: the letter stays open with the latest error, one attempt more. */
export function recordDeadLetterAttempt(
  db: Executor,
  id: string,
  error: { code: string; message: string },
): Promise<RelayDeadLetter> {
  return db
    .updateTable('relay_dead_letters')
    .set({
      error_code: error.code,
      error_message: error.message.slice(0, MAX_MESSAGE),
      attempts: sql<number>`attempts + 1`,
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Open relay dead letters of the store, per peer. */
export async function openDeadLettersOfStore(db: Executor, storeId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('relay_dead_letters')
    .select(['peer_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('store_id', '=', storeId)
    .where('status', '=', 'open')
    .groupBy('peer_id')
    .execute();
  return new Map(rows.map((r) => [r.peer_id, Number(r.n)]));
}

/** Deletes letters resolved more than `days` ago, at most `limit` per call; returns how many. */
export async function pruneResolvedDeadLetters(db: Executor, days: number, limit = 10_000): Promise<number> {
  const r = await sql`
    DELETE FROM relay_dead_letters WHERE id IN (
      SELECT id FROM relay_dead_letters
      WHERE status = 'resolved' AND resolved_at < now() - make_interval(days => ${days}) LIMIT ${limit})`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0);
}
