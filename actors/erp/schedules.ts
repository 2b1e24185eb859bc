import type { Client, ScheduleOptions } from '@temporalio/client';
import { onePassAtATime, upsertSchedules } from '../schedules';
import { deliverySettings } from './orders';
import type { Config } from '../../infra/config';
import { ERP_MAINTENANCE_TASKS, type ErpMaintenanceTask } from '../../activities/erp';
import { erpScheduleId } from '../../workflows/erp/ids';
import { erpMaintenanceWorkflow } from '../../workflows/erp/maintenance';
import { erpOrderSweepWorkflow } from '../../workflows/erp/order-sweep';
import { erpReconcileSweepWorkflow } from '../../workflows/erp/vendor-reconcile';

type ErpScheduleConfig = Pick<
  Config,
  | 'NODE_ID'
  | 'TEMPORAL_TASK_QUEUE'
  | 'ERP_RECONCILE_LEAF_SIZE'
  | 'ERP_AGENT_TIMEOUT_MS'
  | 'ERP_ORDER_MAX_ATTEMPTS'
  | 'ERP_ORDER_BACKOFF_SECONDS'
  | 'ERP_CALLBACK_TIMEOUT_SECONDS'
  | 'ERP_ORDER_SWEEP_SECONDS'
  | 'ERP_ORDER_SWEEP_GRACE_SECONDS'
  | 'ERP_SCHEDULES_ENABLED'
>;

/** Sales read and jobs started per order-sweep run. */
export const ORDER_SWEEP_LIMIT = 200;

/** The seed's six periodic tasks (REQ-10) as calendar or interval specs, UTC. */
const WHEN: Record<ErpMaintenanceTask, ScheduleOptions['spec']> = {
  'agent-health': { intervals: [{ every: '5 minutes' }] },
  'dlq-alerts': { intervals: [{ every: '15 minutes' }] },
  'expired-jobs': { cronExpressions: ['0 2 * * *'] },
  'archive-reconciliation': { cronExpressions: ['0 3 * * 0'] },
  'resolved-dlq': { cronExpressions: ['0 4 * * 6'] },
};

// A run still going when the next tick comes: that tick is dropped.
const policies = onePassAtATime();

export function erpScheduleDefinitions(config: ErpScheduleConfig): ScheduleOptions[] {
  const drift: ScheduleOptions = {
    scheduleId: erpScheduleId(config.NODE_ID, 'drift-detection'),
    spec: { cronExpressions: ['0 * * * *'] },
    action: {
      type: 'startWorkflow',
      workflowType: erpReconcileSweepWorkflow,
      workflowId: erpScheduleId(config.NODE_ID, 'drift-detection'),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ leafSize: config.ERP_RECONCILE_LEAF_SIZE, agentTimeoutMs: config.ERP_AGENT_TIMEOUT_MS }],
    },
    policies,
    memo: {
      description: 'ERP drift detection: VendorReconcile for every active vendor',
      node: config.NODE_ID,
    },
  };
  const tasks = ERP_MAINTENANCE_TASKS.map((task): ScheduleOptions => ({
    scheduleId: erpScheduleId(config.NODE_ID, task),
    spec: WHEN[task],
    action: {
      type: 'startWorkflow',
      workflowType: erpMaintenanceWorkflow,
      workflowId: erpScheduleId(config.NODE_ID, task),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ task }],
    },
    policies,
    memo: { description: `ERP maintenance: ${task}`, node: config.NODE_ID },
  }));
  const orders: ScheduleOptions = {
    scheduleId: erpScheduleId(config.NODE_ID, 'order-sweep'),
    spec: { intervals: [{ every: `${config.ERP_ORDER_SWEEP_SECONDS} seconds` }] },
    action: {
      type: 'startWorkflow',
      workflowType: erpOrderSweepWorkflow,
      workflowId: erpScheduleId(config.NODE_ID, 'order-sweep'),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [
        {
          graceSeconds: config.ERP_ORDER_SWEEP_GRACE_SECONDS,
          limit: ORDER_SWEEP_LIMIT,
          delivery: deliverySettings(config),
        },
      ],
    },
    policies,
    memo: {
      description:
        'ERP order sweep: POS sales of mapped stores → orders; pending jobs without a workflow → started',
      node: config.NODE_ID,
    },
  };
  // The order sweep is not one of the switchable schedules: every API process runs the order
  // producer, and the sweep is the only recovery of a job committed without its workflow.
  return config.ERP_SCHEDULES_ENABLED ? [drift, ...tasks, orders] : [orders];
}

/**
 * Creates the ERP schedules or brings them up to date (idempotent; paused ones stay paused). With
 * ERP_SCHEDULES_ENABLED=false only the order sweep.
 */
export function ensureErpSchedules(client: Client, config: ErpScheduleConfig): Promise<string[]> {
  return upsertSchedules(client, erpScheduleDefinitions(config));
}
