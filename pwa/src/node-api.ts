import type { OutgoingEvent } from './db';

// The node's HTTP API as the device uses it, one small typed function per call. Every route the
// client depends on is named here and nowhere else, so a change of contract is a change of this file.

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface NodeApiOptions {
  /** The node's origin ('' for the page's own origin). */
  baseUrl: string;
  token: string;
  fetch?: FetchLike;
}

/** The node answered with an error status (or an unreadable body). */
export class NodeApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NodeApiError';
  }

  /** Worth retrying later: the node or the network is having trouble, the request itself is fine. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The request never got an answer (offline, connection refused, lost response). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`network: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'NetworkError';
  }
}

export interface PushRejection {
  index: number;
  event_id: string | null;
  code: string;
  message: string;
  details?: { path: string; message: string }[];
}

export interface PushResult {
  accepted: string[];
  duplicates: string[];
  rejected: PushRejection[];
  last_node_seq: number | null;
}

export interface PulledEvent extends OutgoingEvent {
  node_seq: number;
  origin_node: string;
  hlc?: string;
}

export interface PullResult {
  events: PulledEvent[];
  next_since: number;
  has_more: boolean;
}

/** GET /stores/{id}/snapshot (issue 16 item 1): what a device caches, and the feed position it matches. */
export interface StoreSnapshot {
  position: number;
  /** The store's clock at the snapshot: merged into the device's, as pulling each event would. */
  vector_clock?: Record<string, number>;
  clock_time?: string | null;
  products: {
    id: string;
    name: string;
    price: number | string;
    track_inventory: boolean;
    active?: boolean;
    sku?: string | null;
    barcode?: string | null;
  }[];
  stock: {
    product_id: string;
    warehouse_id: string;
    quantity: number | string;
    /** Units held in other devices' escrow, if the node reports it. */
    reserved?: number | string;
  }[];
  /** Units sold per product and UTC day over the node's recent days (the escrow plan's history). */
  sales_stats?: { product_id: string; day: string; qty: number | string }[];
}

export interface FiscalRangeGrant {
  device_id: string;
  range_start: number;
  range_end: number;
  expires_at: string;
}

export interface EscrowGrantResult {
  granted: { grant_id?: string; product_id: string; qty_granted: number; expires_at?: string }[];
  denied: { product_id: string; reason: string }[];
}

export interface NodeApi {
  push(storeId: string, deviceId: string, events: OutgoingEvent[]): Promise<PushResult>;
  pull(storeId: string, since: number, limit?: number): Promise<PullResult>;
  /** null when the node has no snapshot route (the client then rebuilds its caches from the feed). */
  snapshot(storeId: string): Promise<StoreSnapshot | null>;
  reserveFiscalRange(req: {
    store_id: string;
    series_id: string;
    device_id: string;
    quantity?: number;
  }): Promise<FiscalRangeGrant>;
  grantEscrow(req: {
    store_id: string;
    device_id: string;
    items: { product_id: string; qty: number; expires_at?: string }[];
  }): Promise<EscrowGrantResult>;
}

export function createNodeApi(opts: NodeApiOptions): NodeApi {
  const doFetch: FetchLike = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${opts.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${opts.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new NetworkError(err);
    }
    const text = await res.text().catch(() => '');
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new NodeApiError(res.status, error?.code ?? 'HTTP_ERROR', error?.message ?? `HTTP ${res.status}`);
    }
    if (json === null) throw new NodeApiError(res.status, 'BAD_BODY', `${path}: the answer is not JSON`);
    return json as T;
  }

  const q = encodeURIComponent;
  return {
    push: (storeId, deviceId, events) =>
      call<PushResult>('POST', '/sync/push', { store_id: storeId, device_id: deviceId, events }),
    pull: (storeId, since, limit = 500) =>
      call<PullResult>('GET', `/sync/pull?store_id=${q(storeId)}&since=${since}&limit=${limit}`),
    snapshot: async (storeId) => {
      try {
        return await call<StoreSnapshot>('GET', `/stores/${q(storeId)}/snapshot`);
      } catch (err) {
        if (err instanceof NodeApiError && err.status === 404) return null;
        throw err;
      }
    },
    reserveFiscalRange: (req) => call<FiscalRangeGrant>('POST', '/fiscal/reserve-range', req),
    grantEscrow: (req) => call<EscrowGrantResult>('POST', '/inventory/escrow/batch-grant', req),
  };
}
