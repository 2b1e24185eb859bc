import { sql } from 'kysely';
import type { Db } from '../db';
import type { CashLedgerEntriesTable } from '../db/schema';
import type { Trx } from '../projections/types';
import { columnList, excludedSet, recordset, type ColumnMap } from './recordset';

export const CASH_LEDGER_COLUMNS = {
  store_id: 'uuid',
  id: 'uuid',
  session_id: 'uuid',
  event_id: 'uuid',
  kind: 'text',
  amount: 'numeric',
  reason: 'text',
  occurred_at: 'timestamptz',
  recorded_by: 'text',
} as const satisfies ColumnMap<CashLedgerEntriesTable>;

export type CashLedgerRow = { [K in keyof typeof CASH_LEDGER_COLUMNS]: unknown };

/** Add-wins: an entry claimed by two events keeps the smaller event id's version. */
export async function upsertCashLedgerEntries(trx: Trx, rows: CashLedgerRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = columnList(CASH_LEDGER_COLUMNS);
  const updated = Object.keys(CASH_LEDGER_COLUMNS).filter((c) => c !== 'store_id' && c !== 'id');
  await sql`
    INSERT INTO cash_ledger_entries (${cols})
    SELECT ${cols} FROM ${recordset(CASH_LEDGER_COLUMNS, rows)}
    ON CONFLICT (store_id, id) DO UPDATE SET ${excludedSet(updated)}
    WHERE excluded.event_id < cash_ledger_entries.event_id`.execute(trx);
}

/** The ledger entries of these sessions of the store, oldest first. */
export function entriesOfSessions(db: Db | Trx, storeId: string, sessionIds: string[]) {
  if (sessionIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('cash_ledger_entries')
    .selectAll()
    .where('store_id', '=', storeId)
    .where('session_id', '=', sql<string>`ANY(${sessionIds}::uuid[])`)
    .orderBy('occurred_at')
    .orderBy('id')
    .execute();
}
