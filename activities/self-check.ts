import type { Logger } from 'pino';
import type { Db } from '../infra/db';
import { selfCheckStore, type SelfCheckResult } from '../infra/projections/self-check';
import { raiseAlert } from '../infra/repositories/alerts';
import { saveSelfCheck } from '../infra/repositories/projection-self-checks';
import { listStoreIds } from '../infra/repositories/stores';

export interface SelfCheckDeps {
  db: Db;
  log: Logger;
}

export type { SelfCheckResult } from '../infra/projections/self-check';

export function createSelfCheckActivities({ db, log }: SelfCheckDeps) {
  const checkLog = log.child({ component: 'projection-self-check' });
  return {
    async selfCheckStores(): Promise<string[]> {
      return listStoreIds(db);
    },

    /**
     * Rebuilds one store's projections from its log and compares them with the live tables; saves the
     * outcome and, when rows differ, raises PROJECTION_SELF_CHECK_DIFFERS with the rows.
     */
    async selfCheckStore(storeId: string): Promise<SelfCheckResult> {
      const result = await selfCheckStore(db, checkLog, storeId);
      await saveSelfCheck(db, {
        store_id: storeId,
        checked_at: new Date(),
        events: result.events,
        differences: result.differences,
        duration_ms: result.durationMs,
        details: result.tables,
      });
      if (result.differences > 0) {
        await raiseAlert(db, {
          type: 'PROJECTION_SELF_CHECK_DIFFERS',
          severity: 'P1',
          store_id: storeId,
          subject: `${result.differences} read-model rows differ from a rebuild from the event log (${result.tables
            .map((t) => `${t.table}: ${t.count}`)
            .join(', ')})`,
          payload: { tables: result.tables },
          dedup_key: `PROJECTION_SELF_CHECK_DIFFERS:${storeId}`,
        });
        checkLog.error(
          { store_id: storeId, differences: result.differences, tables: result.tables.map((t) => t.table) },
          'projection self-check found differences',
        );
      } else {
        checkLog.info(
          { store_id: storeId, events: result.events, duration_ms: result.durationMs },
          'projection self-check clean',
        );
      }
      return result;
    },
  };
}
