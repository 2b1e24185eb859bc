import type { ActivityDeps } from '..';
import { createErpMaintenanceActivities } from './maintenance';
import { createErpOrderActivities } from './orders';
import { createErpReconcileActivities } from './reconcile';

export type { DeliverOrderAnswer, DeliverOrderInput } from './orders';
export type { RangeInput, RangeRepair, ReconciliationRecord } from './reconcile';
export { ERP_MAINTENANCE_TASKS, type ErpMaintenanceTask } from './maintenance';

/** The ERP bridge's activities (their names start with `erp`). */
export function createErpActivities(deps: ActivityDeps) {
  return {
    ...createErpOrderActivities(deps),
    ...createErpReconcileActivities(deps),
    ...createErpMaintenanceActivities(deps),
  };
}
