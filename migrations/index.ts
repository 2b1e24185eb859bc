import type { Migration } from 'kysely';
import * as eventLog from './20261124_0001_event_log';
import * as projections from './20261124_0002_projections';
import * as federation from './20261125_0003_federation';
import * as storeKeys from './20261201_0004_store_keys';
import * as alerts from './20261201_0005_alerts';
import * as escrow from './20261202_0007_escrow';
import * as fiscal from './20261202_0006_fiscal';
import * as erp from './20261202_0008_erp';
import * as queries from './20261202_0009_queries';
import * as health from './20261202_0010_health';
import * as healthIndexes from './20261203_0011_health_indexes';
import * as erpOrders from './20261204_0012_erp_orders';
import * as erpReconcile from './20261204_0013_erp_reconcile';
import * as fiscalOverdueIndex from './20261205_0014_fiscal_overdue_index';

/** Every migration, keyed by its timestamped name; the Migrator applies them in name order. */
export const migrations: Record<string, Migration> = {
  '20261124_0001_event_log': eventLog,
  '20261124_0002_projections': projections,
  '20261125_0003_federation': federation,
  '20261201_0004_store_keys': storeKeys,
  '20261201_0005_alerts': alerts,
  '20261202_0007_escrow': escrow,
  '20261202_0006_fiscal': fiscal,
  '20261202_0008_erp': erp,
  '20261202_0009_queries': queries,
  '20261202_0010_health': health,
  '20261203_0011_health_indexes': healthIndexes,
  '20261204_0012_erp_orders': erpOrders,
  '20261204_0013_erp_reconcile': erpReconcile,
  '20261205_0014_fiscal_overdue_index': fiscalOverdueIndex,
};
