import type { Duration } from '@temporalio/common';
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import { orphanHealerWorkflow } from '../workflows/orphan-healer';
import { oversellDetectorWorkflow } from '../workflows/oversell-detector';
import { reconcileSweepWorkflow } from '../workflows/reconcile-sweep';
import { healthMonitorWorkflow } from '../workflows/health-monitor';
import { projectionSelfCheckWorkflow } from '../workflows/self-check';
import type { Config } from '../infra/config';
import type { Log } from '../infra/log';
import {
  healthMonitorScheduleId,
  orphanHealerScheduleId,
  oversellDetectorScheduleId,
  reconcileSweepScheduleId,
  selfCheckScheduleId,
} from '../workflows/ids';

type ScheduleConfig = Pick<
  Config,
  | 'NODE_ID'
  | 'TEMPORAL_TASK_QUEUE'
  | 'ORPHAN_HEALER_INTERVAL_SECONDS'
  | 'ORPHAN_HEALER_BATCH'
  | 'ORPHAN_HEALER_MAX_AGE_DAYS'
  | 'RECONCILE_SWEEP_INTERVAL_SECONDS'
  | 'RECONCILE_CHUNK_SIZE'
  | 'RECONCILE_SWEEP_CONCURRENCY'
  | 'HEALTH_MONITOR_INTERVAL_SECONDS'
  | 'FEDERATION_OFFLINE_AFTER_SECONDS'
  | 'HEALTH_SNAPSHOT_RETENTION_DAYS'
  | 'CONFLICT_AUDIT_RETENTION_DAYS'
  | 'DEAD_LETTER_RETENTION_DAYS'
  | 'ALERT_RETENTION_DAYS'
  | 'ALERT_RETRY_INITIAL_MS'
  | 'ALERT_RETRY_MAX_MS'
  | 'SELF_CHECK_INTERVAL_HOURS'
  | 'OVERSELL_DETECTOR_INTERVAL_SECONDS'
>;

/**
 * Every node schedule's policies: one pass at a time across every worker (a tick that finds the
 * previous pass running is dropped), and ticks missed while the server was down are not replayed one
 * by one (only those within `catchupWindow`).
 */
export const onePassAtATime = (catchupWindow: Duration = '1 minute') => ({
  overlap: ScheduleOverlapPolicy.SKIP,
  catchupWindow,
  pauseOnFailure: false,
});

/** The node's schedules, as they should be for this config. */
export function scheduleDefinitions(config: ScheduleConfig): ScheduleOptions[] {
  const orphanHealer: ScheduleOptions<ScheduleOptionsStartWorkflowAction<typeof orphanHealerWorkflow>> = {
    scheduleId: orphanHealerScheduleId(config.NODE_ID),
    spec: { intervals: [{ every: `${config.ORPHAN_HEALER_INTERVAL_SECONDS} seconds` }] },
    action: {
      type: 'startWorkflow',
      workflowType: orphanHealerWorkflow,
      // The server appends the tick's timestamp to this id.
      workflowId: orphanHealerScheduleId(config.NODE_ID),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ batchSize: config.ORPHAN_HEALER_BATCH, maxAgeDays: config.ORPHAN_HEALER_MAX_AGE_DAYS }],
    },
    policies: onePassAtATime(),
    memo: {
      description:
        'Re-projects events whose projection failed or never ran (projection_status <> processed, ' +
        `received in the last ${config.ORPHAN_HEALER_MAX_AGE_DAYS} days, ${config.ORPHAN_HEALER_BATCH} per run)`,
      node: config.NODE_ID,
    },
  };
  const reconcileSweep: ScheduleOptions<ScheduleOptionsStartWorkflowAction<typeof reconcileSweepWorkflow>> = {
    scheduleId: reconcileSweepScheduleId(config.NODE_ID),
    spec: { intervals: [{ every: `${config.RECONCILE_SWEEP_INTERVAL_SECONDS} seconds` }] },
    action: {
      type: 'startWorkflow',
      workflowType: reconcileSweepWorkflow,
      workflowId: reconcileSweepScheduleId(config.NODE_ID),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [
        {
          chunkSize: config.RECONCILE_CHUNK_SIZE,
          concurrency: config.RECONCILE_SWEEP_CONCURRENCY,
          nodeId: config.NODE_ID,
        },
      ],
    },
    // A sweep still reconciling a big divergence when the next tick comes: that tick is dropped.
    policies: onePassAtATime(),
    memo: {
      description:
        'Reconciles every store with every peer by anti-entropy digests (workflows reconcile:{node}:{store}:{peer}, ' +
        `${config.RECONCILE_SWEEP_CONCURRENCY} at a time)`,
      node: config.NODE_ID,
    },
  };
  const healthMonitor: ScheduleOptions<ScheduleOptionsStartWorkflowAction<typeof healthMonitorWorkflow>> = {
    scheduleId: healthMonitorScheduleId(config.NODE_ID),
    spec: { intervals: [{ every: `${config.HEALTH_MONITOR_INTERVAL_SECONDS} seconds` }] },
    action: {
      type: 'startWorkflow',
      workflowType: healthMonitorWorkflow,
      workflowId: healthMonitorScheduleId(config.NODE_ID),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [
        {
          nodeId: config.NODE_ID,
          offlineAfterSeconds: config.FEDERATION_OFFLINE_AFTER_SECONDS,
          retention: {
            snapshots: config.HEALTH_SNAPSHOT_RETENTION_DAYS,
            conflictAudit: config.CONFLICT_AUDIT_RETENTION_DAYS,
            deadLetters: config.DEAD_LETTER_RETENTION_DAYS,
            alerts: config.ALERT_RETENTION_DAYS,
          },
          retry: { initialMs: config.ALERT_RETRY_INITIAL_MS, maxMs: config.ALERT_RETRY_MAX_MS },
        },
      ],
    },
    policies: onePassAtATime(),
    memo: {
      description:
        "Saves every store's health snapshot, raises alerts on health transitions and starts their webhook deliveries " +
        `(every ${config.HEALTH_MONITOR_INTERVAL_SECONDS} s)`,
      node: config.NODE_ID,
    },
  };
  const selfCheck: ScheduleOptions<ScheduleOptionsStartWorkflowAction<typeof projectionSelfCheckWorkflow>> = {
    scheduleId: selfCheckScheduleId(config.NODE_ID),
    spec: { intervals: [{ every: `${config.SELF_CHECK_INTERVAL_HOURS} hours` }] },
    action: {
      type: 'startWorkflow',
      workflowType: projectionSelfCheckWorkflow,
      workflowId: selfCheckScheduleId(config.NODE_ID),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{}],
    },
    policies: onePassAtATime('1 hour'),
    memo: {
      description:
        "Rebuilds every store's read models from its event log in a scratch schema and compares them",
      node: config.NODE_ID,
    },
  };
  const oversellDetector: ScheduleOptions<
    ScheduleOptionsStartWorkflowAction<typeof oversellDetectorWorkflow>
  > = {
    scheduleId: oversellDetectorScheduleId(config.NODE_ID),
    spec: { intervals: [{ every: `${config.OVERSELL_DETECTOR_INTERVAL_SECONDS} seconds` }] },
    action: {
      type: 'startWorkflow',
      workflowType: oversellDetectorWorkflow,
      workflowId: oversellDetectorScheduleId(config.NODE_ID),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [],
    },
    policies: onePassAtATime(),
    memo: {
      description:
        'Raises OVERSELLING_DETECTED for every product below zero in a warehouse (once per product and ' +
        'warehouse per hour)',
      node: config.NODE_ID,
    },
  };
  return [orphanHealer, reconcileSweep, healthMonitor, selfCheck, oversellDetector];
}

/** Schedule names of the node before their ids carried the node id. */
const LEGACY_SCHEDULE_IDS = new Set(['orphan-healer', 'reconcile-sweep']);

/**
 * Creates each schedule, or brings an existing one's spec, action and policies up to date; its
 * state (an operator's pause) is kept. Returns the ids.
 */
export async function upsertSchedules(client: Client, definitions: ScheduleOptions[]): Promise<string[]> {
  const ids: string[] = [];
  for (const definition of definitions) {
    try {
      await client.schedule.create(definition);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(definition.scheduleId).update((previous) => ({
        ...previous,
        spec: definition.spec,
        action: definition.action,
        policies: definition.policies,
      }));
    }
    ids.push(definition.scheduleId);
  }
  return ids;
}

/**
 * Creates the node's schedules, or brings existing ones up to date with the config (every boot of
 * every worker calls this, so it must be idempotent). A schedule an operator paused stays paused.
 * This node's schedules from before ids carried the node id are deleted (they would fire beside
 * the new ones); another node's are never touched.
 */
export async function ensureSchedules(client: Client, config: ScheduleConfig, log?: Log): Promise<string[]> {
  const ids = await upsertSchedules(client, scheduleDefinitions(config));
  for await (const schedule of client.schedule.list()) {
    if (!LEGACY_SCHEDULE_IDS.has(schedule.scheduleId) || schedule.memo?.node !== config.NODE_ID) continue;
    await client.schedule.getHandle(schedule.scheduleId).delete();
    log?.info({ scheduleId: schedule.scheduleId }, 'deleted a schedule of this node under its old id');
  }
  return ids;
}
