import type { Db } from '../db';
import type { Log } from '../log';
import { raiseAlert } from '../repositories/alerts';
import type { AlertSeverity } from '../db/schema';

// ERP alerts (the seed's agent_offline, dlq_entries_found, circuit_breaker_open,
// reconciliation_drift): always logged, written to the node's alerts table (node-wide: store_id
// null; repeats within an hour fold into one row), and posted to SLACK_WEBHOOK_URL when set — only
// when the row is new, so a flapping agent does not flood the channel.

export interface AlertSink {
  log: Log;
  webhookUrl?: string;
}

export type ErpAlertType =
  'agent_offline' | 'dlq_entries_found' | 'circuit_breaker_open' | 'reconciliation_drift';

export async function raiseErpAlert(
  db: Db,
  sink: AlertSink,
  a: { type: ErpAlertType; severity: AlertSeverity; subject: string; payload: Record<string, unknown> },
): Promise<{ raised: boolean }> {
  sink.log.warn({ alert: a.type, ...a.payload }, a.subject);
  const r = await raiseAlert(db, { ...a, store_id: null });
  if (r.raised && sink.webhookUrl) {
    try {
      await fetch(sink.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `[${a.severity}] ${a.type}: ${a.subject}` }),
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      sink.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert webhook failed');
    }
  }
  return { raised: r.raised };
}
