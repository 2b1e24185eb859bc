import { sql } from 'kysely';
import type { Db } from '../db';
import type { ConflictAuditLogTable } from '../db/schema';
import type { ConflictRecord, Trx } from '../projections/types';
import { recordset, type ColumnMap } from './recordset';

const AUDIT_COLUMNS = {
  store_id: 'uuid',
  entity_type: 'text',
  entity_id: 'text',
  field: 'text',
  winner_event_id: 'uuid',
  loser_event_ids: 'text',
  strategy: 'text',
  details: 'jsonb',
} as const satisfies ColumnMap<Omit<ConflictAuditLogTable, 'loser_event_ids'> & { loser_event_ids: string }>;

/**
 * Largest payload copied into an audit row; a bigger one is kept as a reference (its event id and
 * size), so one large event cannot multiply into many large audit rows. The event itself stays in
 * the log.
 */
export const AUDIT_PAYLOAD_MAX_BYTES = 4096;

const bounded = (alias: string) =>
  sql.raw(
    `CASE WHEN octet_length(${alias}.payload::text) <= ${AUDIT_PAYLOAD_MAX_BYTES} THEN ${alias}.payload ` +
      `ELSE jsonb_build_object('event_id', ${alias}.event_id, 'truncated', true, 'bytes', octet_length(${alias}.payload::text)) END`,
  );

/** Writes resolved conflicts with the payloads of winner and losers (bounded copies), read from the store's log. */
export async function insertConflicts(trx: Trx, conflicts: ConflictRecord[]): Promise<void> {
  const rows = conflicts.map((c) => ({
    store_id: c.store_id,
    entity_type: c.entity_type,
    entity_id: c.entity_id,
    field: c.fields.join(','),
    winner_event_id: c.winner_event_id,
    loser_event_ids: c.loser_event_id ? `{${c.loser_event_id}}` : '{}',
    strategy: c.strategy,
    details: c.details ?? null,
  }));
  await sql`
    INSERT INTO conflict_audit_log (store_id, entity_type, entity_id, field, winner_event_id,
      loser_event_ids, strategy, details, winner_payload, loser_payloads)
    SELECT x.store_id, x.entity_type, x.entity_id, x.field, x.winner_event_id, x.loser_event_ids::uuid[],
      x.strategy, x.details, ${bounded('w')},
      (SELECT jsonb_agg(${bounded('l')}) FROM events l
       WHERE l.store_id = x.store_id AND l.event_id = ANY(x.loser_event_ids::uuid[]))
    FROM ${recordset(AUDIT_COLUMNS, rows)}
    LEFT JOIN events w ON w.store_id = x.store_id AND w.event_id = x.winner_event_id`.execute(trx);
}

/** A store's audit, newest first. */
export function listConflicts(db: Db, storeId: string, range: { from?: Date; to?: Date; limit: number }) {
  let q = db.selectFrom('conflict_audit_log').selectAll().where('store_id', '=', storeId);
  if (range.from) q = q.where('resolved_at', '>=', range.from);
  if (range.to) q = q.where('resolved_at', '<', range.to);
  return q.orderBy('resolved_at', 'desc').orderBy('id').limit(range.limit).execute();
}

/** The audit's rows about one entity of the store, oldest first. */
export function conflictsOfEntity(db: Db | Trx, storeId: string, entityType: string, entityId: string) {
  return db
    .selectFrom('conflict_audit_log')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('entity_type', '=', entityType)
    .where('entity_id', '=', entityId)
    .orderBy('resolved_at')
    .orderBy('id')
    .execute();
}

/** Deletes audit rows older than `days`, at most `limit` per call; returns how many. */
export async function pruneConflicts(db: Db, days: number, limit = 10_000): Promise<number> {
  const r = await sql`
    DELETE FROM conflict_audit_log WHERE id IN (
      SELECT id FROM conflict_audit_log WHERE resolved_at < now() - make_interval(days => ${days}) LIMIT ${limit})`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0);
}
