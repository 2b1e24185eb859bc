import { proxyActivities } from '@temporalio/workflow';
import type { Activities, ErpMaintenanceTask } from '../../activities';
import { databaseBatch } from '../profiles';

/** One periodic ERP task (agent health, DLQ alerts, retention), started by its Temporal Schedule. */
export async function erpMaintenanceWorkflow(input: { task: ErpMaintenanceTask }) {
  const { erpMaintenance } = proxyActivities<Activities>(databaseBatch);
  return erpMaintenance(input);
}
