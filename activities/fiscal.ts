import type { Logger } from 'pino';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { closeRange } from '../infra/fiscal/ranges';

// The FiscalRange workflow's I/O: ending a range is one transaction that appends FiscalRangeClosed
// (idempotent: a retried activity finds the range ended and does nothing).

export interface FiscalActivityDeps {
  db: Db;
  log: Logger;
  config: Config;
}

export function createFiscalActivities({ db, log, config }: FiscalActivityDeps) {
  const fiscalLog = log.child({ component: 'fiscal-range' });
  return {
    async closeFiscalRange(input: {
      storeId: string;
      rangeId: string;
      status: 'exhausted' | 'expired';
    }): Promise<boolean> {
      const closed = await closeRange(
        { db, config, log: fiscalLog },
        { store_id: input.storeId, range_id: input.rangeId, status: input.status },
      );
      fiscalLog.info({ range_id: input.rangeId, status: input.status, closed }, 'fiscal range ended');
      return closed;
    },
  };
}
