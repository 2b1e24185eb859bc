/** Closed-loop pushes: each client a device sending its pre-serialised pushes in order, one keep-alive connection each. */
import { performance } from 'node:perf_hooks';
import { HttpClient } from './http';
import type { Batch } from './workload';

export interface PhaseResult {
  scenario: string;
  events: number;
  seconds: number;
  latencies: number[];
  bytes: number;
}

export interface PushTotals {
  /** Events accepted by the node (counted from the responses). */
  accepted: number;
  /** Body bytes of the requests that got a response. */
  bytes: number;
  latencies: number[];
  errors: string[];
  /** Set on the first failed request: every client stops, the run fails. */
  stop: boolean;
}

export const newTotals = (): PushTotals => ({
  accepted: 0,
  bytes: 0,
  latencies: [],
  errors: [],
  stop: false,
});

/** One device: its pushes in order; any refusal, rejection or duplicate is an error. */
export async function pushClient(
  url: string,
  token: string,
  batches: Batch[],
  totals: PushTotals,
  timeoutMs: number,
): Promise<void> {
  const http = new HttpClient(url, token, { timeoutMs });
  try {
    for (const b of batches) {
      if (totals.stop) return;
      const started = performance.now();
      let res;
      try {
        res = await http.request('POST', '/sync/push', b.body);
      } catch (err) {
        totals.errors.push(`request failed: ${err instanceof Error ? err.message : String(err)}`);
        totals.stop = true;
        return;
      }
      const ms = performance.now() - started;
      totals.bytes += b.body.length;
      if (res.status !== 200) {
        totals.errors.push(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
        totals.stop = true;
        return;
      }
      const out = JSON.parse(res.body) as { accepted: string[]; duplicates: string[]; rejected: unknown[] };
      totals.accepted += out.accepted.length;
      totals.latencies.push(ms);
      if (out.accepted.length !== b.events.length || out.duplicates.length > 0 || out.rejected.length > 0)
        totals.errors.push(
          `push of ${b.events.length}: accepted ${out.accepted.length}, duplicates ${out.duplicates.length}, ` +
            `rejected ${JSON.stringify(out.rejected).slice(0, 300)}`,
        );
    }
  } finally {
    http.close();
  }
}

/** Every client at once, client i with token i and the pushes batches[i]. */
export function pushAll(
  url: string,
  tokens: string[],
  batches: Batch[][],
  totals: PushTotals,
  timeoutMs: number,
): Promise<void[]> {
  return Promise.all(tokens.map((t, i) => pushClient(url, t, batches[i]!, totals, timeoutMs)));
}
