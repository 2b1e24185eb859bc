import type { ActivityDeps } from '..';
import type { BreakerDeps } from '../../infra/erp/breaker';
import type { Log } from '../../infra/log';

/**
 * What every ERP activity derives from config: the breaker settings, the alert sink, the call token,
 * the metrics it counts into.
 */
export function erpRuntime({ db, log, config, metrics }: ActivityDeps) {
  const alerts = { log, webhookUrl: config.SLACK_WEBHOOK_URL };
  return {
    alerts,
    callToken: config.ERP_AGENT_CALL_TOKEN ?? config.AGENT_SECRET,
    agentTimeoutMs: config.ERP_AGENT_TIMEOUT_MS,
    metrics,
    /** What callAgent counts a call of this vendor and API type into. */
    callMetrics: (vendorId: string, apiType: string) => ({ sink: metrics, vendorId, apiType }),
    breaker: (l: Log = log): BreakerDeps => ({
      db,
      log: l,
      alerts: { ...alerts, log: l },
      metrics,
      settings: {
        errorPercent: config.ERP_BREAKER_ERROR_PERCENT,
        volume: config.ERP_BREAKER_VOLUME,
        resetMs: config.ERP_BREAKER_RESET_MS,
        windowMs: config.ERP_BREAKER_WINDOW_MS,
      },
    }),
  };
}
