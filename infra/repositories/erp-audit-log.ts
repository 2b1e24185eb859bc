import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';

// Admin actions on the ERP bridge (erp_audit_log): dead letters retried or resolved, agents changed
// or deregistered, breakers reset. Written in the same transaction as the action where there is one.

type Executor = Db | Transaction<Database>;

export interface AuditEntry {
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details?: Record<string, unknown>;
}

export async function audit(db: Executor, e: AuditEntry): Promise<void> {
  await db
    .insertInto('erp_audit_log')
    .values({ ...e, details: JSON.stringify(e.details ?? {}) })
    .execute();
}

export function auditTrail(db: Executor, targetType: string, targetId: string) {
  return db
    .selectFrom('erp_audit_log')
    .selectAll()
    .where('target_type', '=', targetType)
    .where('target_id', '=', targetId)
    .orderBy('id')
    .execute();
}
