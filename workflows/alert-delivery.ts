import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface AlertRetry {
  initialMs: number;
  maxMs: number;
}

export interface AlertDeliveryInput {
  alertId: string;
  retry: AlertRetry;
}

/**
 * AlertDelivery (`alert:{node}:{alertId}`): POSTs one alert to its store's webhook, retried with
 * exponential backoff (ALERT_RETRY_INITIAL_MS doubling to ALERT_RETRY_MAX_MS) until the receiver
 * answers 2xx, for up to a week. The webhook URL is read by the activity, never kept in the history.
 */
export async function alertDeliveryWorkflow(input: AlertDeliveryInput): Promise<string> {
  const { deliverAlert } = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '7 days',
    retry: {
      initialInterval: input.retry.initialMs,
      backoffCoefficient: 2,
      maximumInterval: input.retry.maxMs,
      // No attempt limit: only the week-long schedule-to-close bounds it.
    },
  });
  return deliverAlert(input.alertId);
}
