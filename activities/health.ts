import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Db } from '../infra/db';
import {
  findAlert,
  markDelivered,
  pruneClosedAlerts,
  raiseAlert,
  undeliveredAlerts,
} from '../infra/repositories/alerts';
import { pruneConflicts } from '../infra/repositories/conflict-audit-log';
import { pruneResolvedDeadLetters } from '../infra/repositories/relay-dead-letters';
import { latestSnapshot, pruneSnapshots, saveSnapshot } from '../infra/repositories/health-snapshots';
import { alertWebhookOf } from '../infra/repositories/store-alert-settings';
import { listStoreIds } from '../infra/repositories/stores';
import { healthAlertsOf, previousReport, withOfflineStreaks } from '../domain/health/alerts';
import type { FederationHealthReport } from '../domain/health/report';
import { Failure } from '../domain/errors';

// The HealthMonitor's steps (workflows/health-monitor.ts) and the AlertDelivery's one step
// (workflows/alert-delivery.ts). The report itself is built by actors/health.ts, which asks the relay
// actors; the composition root (app/worker.ts) hands it in as `healthReport`.

export interface HealthActivityDeps {
  db: Db;
  log: Logger;
  /** Builds a store's report (absent in a worker that does not run the monitor). */
  healthReport?: (storeId: string) => Promise<FederationHealthReport>;
}

/** Days each kind of row is kept. */
export interface RetentionDays {
  snapshots: number;
  conflictAudit: number;
  deadLetters: number;
  alerts: number;
}

export interface SnapshotInput {
  storeId: string;
  offlineAfterSeconds: number;
}

export interface SnapshotResult {
  overall: FederationHealthReport['overallHealth'];
  /** Alerts raised by this snapshot (repeats inside the hour are folded, not counted). */
  raised: string[];
}

const WEBHOOK_TIMEOUT_MS = 10_000;

export function createHealthActivities({ db, log, healthReport }: HealthActivityDeps) {
  return {
    async healthStores(): Promise<string[]> {
      return listStoreIds(db);
    },

    /** One store's snapshot: the report, saved, and the alerts its transitions raise. */
    async snapshotHealth(input: SnapshotInput): Promise<SnapshotResult> {
      if (!healthReport) {
        throw ApplicationFailure.nonRetryable(
          'this worker cannot build health reports',
          Failure.invalidInput,
        );
      }
      const previous = await latestSnapshot(db, input.storeId);
      const before = previousReport(previous?.report ?? null);
      const report = withOfflineStreaks(await healthReport(input.storeId), before);
      await saveSnapshot(db, {
        store_id: input.storeId,
        taken_at: new Date(report.timestamp),
        overall: report.overallHealth,
        report,
      });
      const raised: string[] = [];
      for (const alert of healthAlertsOf(report, before, input.offlineAfterSeconds * 1000)) {
        const r = await raiseAlert(db, alert);
        if (!r.raised) continue;
        raised.push(r.id);
        const line = { alert_id: r.id, type: alert.type, store_id: input.storeId, subject: alert.subject };
        if (alert.severity === 'P0' || alert.severity === 'P1') log.error(line, 'alert raised');
        else log.warn(line, 'alert raised');
      }
      return { overall: report.overallHealth, raised };
    },

    /** Alerts waiting for their store's webhook (any feature's, not only the monitor's). */
    async pendingAlertDeliveries(limit: number): Promise<{ id: string; store_id: string }[]> {
      return undeliveredAlerts(db, limit);
    },

    /** Retention (docs/health.md): what is older than its period goes; the event log is never pruned. */
    async pruneRetention(days: RetentionDays): Promise<Record<keyof RetentionDays, number>> {
      const pruned = {
        snapshots: await pruneSnapshots(db, days.snapshots),
        conflictAudit: await pruneConflicts(db, days.conflictAudit),
        deadLetters: await pruneResolvedDeadLetters(db, days.deadLetters),
        alerts: await pruneClosedAlerts(db, days.alerts),
      };
      if (Object.values(pruned).some((n) => n > 0)) log.info({ pruned }, 'retention pruned old rows');
      return pruned;
    },

    /**
     * POSTs one alert to its store's webhook. A receiver that does not answer 2xx fails the attempt
     * and the workflow's retry policy tries again later; the URL is read here, never put in a history.
     */
    async deliverAlert(alertId: string): Promise<'delivered' | 'no-webhook' | 'gone'> {
      const alert = await findAlert(db, alertId);
      if (!alert || alert.store_id === null) return 'gone';
      if (alert.delivered_at) return 'delivered';
      const url = await alertWebhookOf(db, alert.store_id);
      if (!url) return 'no-webhook';
      let status: number;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-velox-alert-id': alert.id },
          body: JSON.stringify({
            id: alert.id,
            type: alert.type,
            severity: alert.severity,
            store_id: alert.store_id,
            subject: alert.subject,
            payload: alert.payload,
            occurrences: alert.occurrences,
            created_at: alert.created_at.toISOString(),
          }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        status = res.status;
        await res.body?.cancel();
      } catch (err) {
        throw ApplicationFailure.retryable(
          `webhook of store ${alert.store_id} did not answer: ${err instanceof Error ? err.message : String(err)}`,
          'ALERT_WEBHOOK_UNREACHABLE',
        );
      }
      if (status < 200 || status >= 300) {
        throw ApplicationFailure.retryable(
          `webhook of store ${alert.store_id} answered ${status}`,
          'ALERT_WEBHOOK_REFUSED',
        );
      }
      await markDelivered(db, alert.id);
      log.info({ alert_id: alert.id, store_id: alert.store_id }, 'alert delivered to the store webhook');
      return 'delivered';
    },
  };
}
