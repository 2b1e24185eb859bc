import { upsertCashLedgerEntries } from '../repositories/cash-ledger-entries';
import { firstPerId, ofType, type ProjectionEvent, type Trx } from './types';

/** Cash ledger entries are an add-wins set per store, keyed by entry id. */
export async function projectCashLedger(trx: Trx, events: ProjectionEvent[]): Promise<void> {
  const entries = firstPerId(ofType(events, 'CashLedgerEntryCreated'), (e) => e.payload.entry_id);
  await upsertCashLedgerEntries(
    trx,
    entries.map((e) => ({
      store_id: e.store_id,
      id: e.payload.entry_id,
      session_id: e.payload.session_id ?? null,
      event_id: e.event_id,
      kind: e.payload.kind,
      amount: e.payload.amount,
      reason: e.payload.reason ?? null,
      occurred_at: e.created_at.toISOString(),
      recorded_by: e.actor_user_id,
    })),
  );
}
