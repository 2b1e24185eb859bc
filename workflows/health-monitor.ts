import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { Activities, RetentionDays } from '../activities';
import { alertDeliveryWorkflow, type AlertRetry } from './alert-delivery';
import { alertWorkflowId } from './ids';
import { databaseBatch } from './profiles';
import { StoreIdKey } from './search-keys';

const { healthStores, snapshotHealth, pendingAlertDeliveries, pruneRetention } =
  proxyActivities<Activities>(databaseBatch);

export interface HealthMonitorInput {
  nodeId: string;
  offlineAfterSeconds: number;
  retention: RetentionDays;
  retry: AlertRetry;
  /** Stores measured at once. */
  concurrency?: number;
}

export interface HealthMonitorResult {
  stores: number;
  overall: Record<string, string>;
  raised: string[];
  deliveries: number;
  pruned: Record<keyof RetentionDays, number>;
}

/**
 * HealthMonitor: one tick of the `health-snapshot` schedule (every HEALTH_MONITOR_INTERVAL_SECONDS,
 * overlap SKIP). Snapshots every store's health, raises the alerts its transitions call for, starts
 * one AlertDelivery per alert waiting for a store webhook (whatever raised it), and prunes what is past
 * its retention (snapshots, conflict audit, resolved dead letters, closed alerts).
 */
export async function healthMonitorWorkflow(input: HealthMonitorInput): Promise<HealthMonitorResult> {
  const stores = await healthStores();
  const overall: Record<string, string> = {};
  const raised: string[] = [];
  const step = Math.max(1, input.concurrency ?? 4);
  for (let i = 0; i < stores.length; i += step) {
    const results = await Promise.all(
      stores
        .slice(i, i + step)
        .map((storeId) => snapshotHealth({ storeId, offlineAfterSeconds: input.offlineAfterSeconds })),
    );
    results.forEach((r, j) => {
      overall[stores[i + j]!] = r.overall;
      raised.push(...r.raised);
    });
  }
  let deliveries = 0;
  for (const alert of await pendingAlertDeliveries(100)) {
    try {
      await startChild(alertDeliveryWorkflow, {
        workflowId: alertWorkflowId(input.nodeId, alert.id),
        args: [{ alertId: alert.id, retry: input.retry }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // An alert is delivered once: a finished delivery is never started again.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: StoreIdKey, value: alert.store_id }],
      });
      deliveries += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  const pruned = await pruneRetention(input.retention);
  return { stores: stores.length, overall, raised, deliveries, pruned };
}
