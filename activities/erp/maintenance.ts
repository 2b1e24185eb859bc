import type { ActivityDeps } from '..';
import { raiseErpAlert } from '../../infra/erp/alerts';
import { allAgents } from '../../infra/repositories/erp-agents';
import { countOpenDeadLetters, deleteResolvedDeadLetters } from '../../infra/repositories/erp-dead-letters';
import { deleteOldReconciliationEvents } from '../../infra/repositories/erp-reconciliation-events';
import { deleteExpiredJobs } from '../../infra/repositories/erp-sync-jobs';
import { agentStatus } from '../../domain/erp/agent-status';
import { erpRuntime } from './runtime';

/** The seed's periodic tasks besides drift detection (REQ-10), one activity each run by a schedule. */
export const ERP_MAINTENANCE_TASKS = [
  'agent-health',
  'dlq-alerts',
  'expired-jobs',
  'archive-reconciliation',
  'resolved-dlq',
] as const;
export type ErpMaintenanceTask = (typeof ERP_MAINTENANCE_TASKS)[number];

export function createErpMaintenanceActivities(deps: ActivityDeps) {
  const { db, config } = deps;
  const rt = erpRuntime(deps);
  const run: Record<ErpMaintenanceTask, () => Promise<number>> = {
    /** Active agents offline (no heartbeat for ERP_AGENT_OFFLINE_SECONDS): one alert each. */
    'agent-health': async () => {
      const now = new Date();
      const thresholds = {
        degradedMs: config.ERP_AGENT_DEGRADED_SECONDS * 1000,
        offlineMs: config.ERP_AGENT_OFFLINE_SECONDS * 1000,
      };
      const offline = (await allAgents(db)).filter(
        (a) => a.is_active && agentStatus(a.last_heartbeat_at, now, thresholds) === 'offline',
      );
      for (const a of offline) {
        await raiseErpAlert(db, rt.alerts, {
          type: 'agent_offline',
          severity: 'P1',
          subject: `ERP agent of vendor ${a.vendor_id} is offline (last heartbeat ${a.last_heartbeat_at?.toISOString() ?? 'never'})`,
          payload: { vendorId: a.vendor_id, lastHeartbeatAt: a.last_heartbeat_at?.toISOString() ?? null },
        });
      }
      return offline.length;
    },
    'dlq-alerts': async () => {
      const open = await countOpenDeadLetters(db);
      for (const v of open) {
        await raiseErpAlert(db, rt.alerts, {
          type: 'dlq_entries_found',
          severity: 'P2',
          subject: `vendor ${v.vendor_id} has ${v.n} unresolved dead letter(s)`,
          payload: { vendorId: v.vendor_id, count: v.n },
        });
      }
      return open.length;
    },
    'expired-jobs': () => deleteExpiredJobs(db),
    'archive-reconciliation': () => deleteOldReconciliationEvents(db),
    'resolved-dlq': () => deleteResolvedDeadLetters(db),
  };
  return {
    async erpMaintenance(input: { task: ErpMaintenanceTask }): Promise<{ task: string; count: number }> {
      const count = await run[input.task]();
      deps.log.info({ task: input.task, count }, 'erp maintenance task done');
      return { task: input.task, count };
    },
  };
}
