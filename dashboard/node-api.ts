import type { FederationHealthReport } from '../domain/health/report';
import type { OverallHealth } from '../domain/health/thresholds';

// The node's admin API as the dashboard uses it. The admin secret is sent only in the
// Authorization header, never in a URL (no query string, no fragment), and is never logged.

export interface StoreRef {
  id: string;
  name: string;
}

export interface HistorySnapshot {
  taken_at: string;
  overall: OverallHealth;
  report: Partial<FederationHealthReport> | null;
}

export interface PeerStatus {
  peer_id: string;
  url: string;
  running: boolean;
  paused: boolean | null;
  lag: { events: number | null; oldest_received_at: string | null; oldest_age_seconds: number | null };
  circuit: { state: string; consecutive_failures: number | null; last_error: string | null };
  dead_letters_open: number;
  last_batch_at: string | null;
  error: string | null;
}

export interface AlertRow {
  id: string;
  type: string;
  severity: string;
  subject: string;
  occurrences: number;
  status: 'open' | 'acknowledged' | 'resolved';
  created_at: string;
  last_seen_at: string;
}

/** The node refused the secret (401): the page signs out and says so. */
export class RefusedError extends Error {}

/** Any other answer the node gave that is not a success, with its error code and message. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  stores(): Promise<StoreRef[]>;
  health(storeId: string): Promise<FederationHealthReport>;
  history(storeId: string, hours: number): Promise<HistorySnapshot[]>;
  relays(): Promise<PeerStatus[]>;
  alerts(storeId: string): Promise<AlertRow[]>;
  acknowledge(alertId: string): Promise<void>;
}

export function createApi(secret: string): Api {
  async function call<T>(method: 'GET' | 'POST', path: string, query: Record<string, string> = {}) {
    const qs = new URLSearchParams(query).toString();
    let res: Response;
    try {
      res = await fetch(qs ? `${path}?${qs}` : path, {
        method,
        headers: { authorization: `Bearer ${secret}`, accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      throw new ApiCallError(0, 'The node does not answer');
    }
    if (res.status === 401) throw new RefusedError('The node refused this admin secret');
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        const body = (await res.json()) as { error?: { code?: string; message?: string } };
        if (body.error) message = `${body.error.code ?? res.status}: ${body.error.message ?? ''}`;
      } catch {
        // Not JSON (a proxy's page): the status says enough.
      }
      if (res.status === 429) message = 'Too many refused attempts from here: wait a minute and try again';
      throw new ApiCallError(res.status, message);
    }
    return (await res.json()) as T;
  }

  return {
    stores: async () => (await call<{ stores: StoreRef[] }>('GET', '/stores')).stores,
    health: (storeId) =>
      call<FederationHealthReport>('GET', '/sync/federation/health', { store_id: storeId }),
    history: async (storeId, hours) =>
      (
        await call<{ snapshots: HistorySnapshot[] }>('GET', '/sync/federation/health/history', {
          store_id: storeId,
          hours: String(hours),
        })
      ).snapshots,
    relays: async () => (await call<{ peers: PeerStatus[] }>('GET', '/sync/federation/status')).peers,
    alerts: async (storeId) =>
      (await call<{ alerts: AlertRow[] }>('GET', '/alerts', { store_id: storeId, limit: '20' })).alerts,
    acknowledge: async (alertId) => {
      await call('POST', `/alerts/${encodeURIComponent(alertId)}/acknowledge`);
    },
  };
}
