import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../infra/config';
import type { Log } from '../infra/log';
import type { ExhaustedRange } from '../infra/projections';
import { fiscalRangeWorkflowId } from '../workflows/ids';
import { fiscalRangeWorkflow, rangeExhaustedSignal } from '../workflows/fiscal-range';
import { DeviceIdKey, StoreIdKey } from '../workflows/search-keys';

export { fiscalRangeWorkflowId } from '../workflows/ids';

/**
 * Starts the FiscalRange workflow of a range this node granted. Asking again (the device reserved
 * once more and got its active range back) attaches to the running one: a workflow that failed to
 * start after the reservation committed is started then.
 */
export async function startFiscalRange(
  client: Client,
  config: Pick<Config, 'NODE_ID' | 'TEMPORAL_TASK_QUEUE' | 'FISCAL_RANGE_TTL_SECONDS'>,
  range: { store_id: string; series_id: string; device_id: string; range_id: string; expires_at: string },
): Promise<void> {
  // The timer counts from now: a late start (a retry) never shortens the range below its expiry.
  const ttlSeconds = Math.max(1, Math.ceil((Date.parse(range.expires_at) - Date.now()) / 1000));
  await client.workflow.start(fiscalRangeWorkflow, {
    workflowId: fiscalRangeWorkflowId(range.range_id),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [
      {
        storeId: range.store_id,
        seriesId: range.series_id,
        deviceId: range.device_id,
        rangeId: range.range_id,
        ttlSeconds: Math.min(ttlSeconds, config.FISCAL_RANGE_TTL_SECONDS),
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: StoreIdKey, value: range.store_id },
      { key: DeviceIdKey, value: range.device_id },
    ],
    memo: { role: 'FiscalRange', node: config.NODE_ID, series: range.series_id },
  });
}

/**
 * After a push commits sales that used a range's last number: tells the ranges' workflows, for the
 * ranges this node granted (a range granted elsewhere is ended by its node when the sale reaches it).
 */
export function createFiscalExhaustionSignaller(
  client: Client,
  config: Pick<Config, 'NODE_ID'>,
  log: Log,
): (ranges: ExhaustedRange[]) => void {
  return (ranges) => {
    for (const r of ranges) {
      if (r.node_id !== config.NODE_ID) continue;
      client.workflow
        .getHandle(fiscalRangeWorkflowId(r.range_id))
        .signal(rangeExhaustedSignal)
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) {
            log.warn({ err, range_id: r.range_id }, 'fiscal range exhaustion signal failed');
          }
        });
    }
  };
}
