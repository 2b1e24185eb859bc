import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { AlertSeverity, AlertsTable, Database } from '../db/schema';

// Alerts a person must see, written by the feature that found the problem (fiscal duplicates,
// overselling, ERP agents) and read by the health monitor, which delivers them. A store's alerts are
// read with its id; node-wide alerts (store_id null) are read without one.

export type Alert = Selectable<AlertsTable>;
type Executor = Db | Transaction<Database>;

export interface NewAlert {
  type: string;
  severity: AlertSeverity;
  store_id: string | null;
  /** One line a person understands: "product P is at -2 in warehouse W". */
  subject: string;
  payload?: Record<string, unknown>;
  /** Repeats with this key inside `windowMs` fold into the first alert. Defaults to type + subject. */
  dedup_key?: string;
  /** Default one hour (the seeds: the same alert at most once per hour). */
  windowMs?: number;
}

export interface RaisedAlert {
  id: string;
  /** False when an open alert with the same key inside the window took it as one more occurrence. */
  raised: boolean;
  occurrences: number;
}

export const DEFAULT_ALERT_WINDOW_MS = 60 * 60_000;
const MAX_SUBJECT = 500;

/**
 * Raises an alert, or counts a repeat of one raised within the window. Serialised per dedup key
 * (a transaction-scoped advisory lock), so concurrent detections of one problem make one row. Inside
 * a caller's transaction the alert commits or rolls back with the caller's work.
 */
export async function raiseAlert(db: Executor, alert: NewAlert): Promise<RaisedAlert> {
  return (await raiseAlerts(db, [alert]))[0]!;
}

/**
 * raiseAlert for several alerts in three statements whatever their number (a push that oversells
 * fifty products): the keys are locked in one order, repeats within their window are counted in one
 * update, the others inserted in one insert. Results in the order given; an alert whose key appears
 * twice in the list counts twice.
 */
export async function raiseAlerts(db: Executor, alerts: NewAlert[]): Promise<RaisedAlert[]> {
  if (alerts.length === 0) return [];
  const keyed = alerts.map((a) => ({
    alert: a,
    key: a.dedup_key ?? `${a.type}:${a.store_id ?? '-'}:${a.subject}`,
    windowSecs: (a.windowMs ?? DEFAULT_ALERT_WINDOW_MS) / 1000,
  }));
  const byKey = new Map<string, typeof keyed>();
  for (const k of keyed) byKey.set(k.key, [...(byKey.get(k.key) ?? []), k]);
  // One order for every caller, so two transactions locking overlapping keys cannot deadlock.
  const keys = [...byKey.keys()].sort();
  const run = async (trx: Executor): Promise<RaisedAlert[]> => {
    await sql`
      SELECT count(pg_advisory_xact_lock(hashtextextended('alert:' || k, 0)))
      FROM unnest(${keys}::text[]) AS u(k)`.execute(trx);
    const repeats = await sql<{ key: string; id: string; occurrences: number }>`
      WITH want AS (
        SELECT u.k, u.n, u.w FROM unnest(${keys}::text[], ${keys.map((k) => byKey.get(k)!.length)}::int[],
          ${keys.map((k) => byKey.get(k)![0]!.windowSecs)}::float8[]) AS u(k, n, w)),
      latest AS (
        SELECT DISTINCT ON (a.dedup_key) a.id, want.k, want.n FROM want
        JOIN alerts a ON a.dedup_key = want.k AND a.status <> 'resolved'
          AND a.created_at > now() - make_interval(secs => want.w)
        ORDER BY a.dedup_key, a.created_at DESC)
      UPDATE alerts a SET occurrences = a.occurrences + latest.n, last_seen_at = now()
      FROM latest WHERE a.id = latest.id
      RETURNING latest.k AS key, a.id::text AS id, a.occurrences`.execute(trx);
    const out = new Map<string, RaisedAlert>();
    for (const r of repeats.rows) out.set(r.key, { id: r.id, raised: false, occurrences: r.occurrences });
    const fresh = keys.filter((k) => !out.has(k));
    if (fresh.length > 0) {
      const rows = await trx
        .insertInto('alerts')
        .values(
          fresh.map((k) => {
            const group = byKey.get(k)!;
            const a = group[0]!.alert;
            return {
              type: a.type,
              severity: a.severity,
              store_id: a.store_id,
              subject: a.subject.slice(0, MAX_SUBJECT),
              payload: JSON.stringify(a.payload ?? {}),
              dedup_key: k,
              occurrences: group.length,
            };
          }),
        )
        .returning(['id', 'occurrences', 'dedup_key'])
        .execute();
      for (const r of rows) out.set(r.dedup_key, { id: r.id, raised: true, occurrences: r.occurrences });
    }
    return keyed.map((k) => out.get(k.key)!);
  };
  return db.isTransaction ? run(db) : (db as Db).transaction().execute(run);
}

export interface AlertFilter {
  /** A store's alerts; `null` for node-wide ones; absent for all. */
  store_id?: string | null;
  type?: string;
  status?: Alert['status'];
  limit?: number;
  /** Alerts with an id below this one (pages newest first). */
  before?: string;
}

/** Alerts newest first. */
export async function listAlerts(db: Executor, filter: AlertFilter = {}): Promise<Alert[]> {
  let q = db.selectFrom('alerts').selectAll();
  if (filter.store_id === null) q = q.where('store_id', 'is', null);
  else if (filter.store_id !== undefined) q = q.where('store_id', '=', filter.store_id);
  if (filter.type) q = q.where('type', '=', filter.type);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.before) q = q.where('id', '<', filter.before);
  return q
    .orderBy('id', 'desc')
    .limit(Math.min(filter.limit ?? 100, 500))
    .execute();
}

/** Marks an alert acknowledged or resolved; false when no such alert exists. */
export async function setAlertStatus(
  db: Executor,
  id: string,
  status: 'acknowledged' | 'resolved',
): Promise<boolean> {
  const r = await db
    .updateTable('alerts')
    .set({ status, ...(status === 'resolved' ? { resolved_at: new Date() } : {}) })
    .where('id', '=', id)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Open alerts of stores that have a webhook, not yet delivered, raised in the last day (oldest first). */
export async function undeliveredAlerts(
  db: Executor,
  limit: number,
): Promise<{ id: string; store_id: string }[]> {
  const rows = await db
    .selectFrom('alerts as a')
    .innerJoin('store_alert_settings as s', 's.store_id', 'a.store_id')
    .select(['a.id', 'a.store_id'])
    .where('a.delivered_at', 'is', null)
    .where('a.status', '=', 'open')
    .where('s.webhook_url', 'is not', null)
    .where('a.created_at', '>', new Date(Date.now() - 86_400_000))
    .orderBy('a.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, store_id: r.store_id! }));
}

export function findAlert(db: Executor, id: string): Promise<Alert | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function markDelivered(db: Executor, id: string): Promise<void> {
  await db.updateTable('alerts').set({ delivered_at: new Date() }).where('id', '=', id).execute();
}

/** Deletes acknowledged or resolved alerts last seen more than `days` ago (open ones stay); returns how many. */
export async function pruneClosedAlerts(db: Executor, days: number, limit = 10_000): Promise<number> {
  const r = await sql`
    DELETE FROM alerts WHERE id IN (
      SELECT id FROM alerts
      WHERE status <> 'open' AND last_seen_at < now() - make_interval(days => ${days}) LIMIT ${limit})`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0);
}
