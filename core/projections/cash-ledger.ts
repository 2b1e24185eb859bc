import { sql } from 'kysely';
import { firstPerId, ofType, type ProjectionEvent, type Trx } from './types';

/** Cash ledger entries are an add-wins set keyed by entry id. */
export async function projectCashLedger(trx: Trx, events: ProjectionEvent[]): Promise<void> {
  const entries = firstPerId(ofType(events, 'CashLedgerEntryCreated'), (e) => e.payload.entry_id);
  if (entries.length === 0) return;
  const rows = entries.map((e) => ({
    id: e.payload.entry_id,
    store_id: e.store_id,
    session_id: e.payload.session_id ?? null,
    event_id: e.event_id,
    kind: e.payload.kind,
    amount: e.payload.amount,
    reason: e.payload.reason ?? null,
    occurred_at: e.created_at.toISOString(),
    recorded_by: e.actor_user_id,
  }));
  await sql`
    INSERT INTO cash_ledger_entries (id, store_id, session_id, event_id, kind, amount, reason, occurred_at, recorded_by)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
      id uuid, store_id uuid, session_id uuid, event_id uuid, kind text, amount numeric, reason text,
      occurred_at timestamptz, recorded_by text)
    ON CONFLICT (id) DO UPDATE SET
      store_id = excluded.store_id, session_id = excluded.session_id, event_id = excluded.event_id,
      kind = excluded.kind, amount = excluded.amount, reason = excluded.reason,
      occurred_at = excluded.occurred_at, recorded_by = excluded.recorded_by
    WHERE excluded.event_id < cash_ledger_entries.event_id`.execute(trx);
}
