import type { PeerConfig } from '../config';
import type { EventRow } from '../db/schema';
import type { PushResponse, SyncEvent } from '../../domain/events/schemas';

/** An HTTP failure talking to a peer. `transient` failures are retried; others need a person. */
export class PeerError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly transient: boolean,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

/** The columns of a stored event that travel between nodes (and to devices pulling the feed). */
export const WIRE_COLUMNS = [
  'event_id',
  'store_id',
  'device_id',
  'seq',
  'type',
  'vector_clock',
  'payload',
  'created_at',
  'actor_user_id',
  'origin_node',
  'hlc',
  'delta_payload',
] as const;

export type WireEventRow = Pick<EventRow, (typeof WIRE_COLUMNS)[number]>;

/**
 * A stored event as it travels to a peer: exactly what the device sent, plus its origin node and the
 * ordering stamp that node gave it (so every node orders concurrent writes identically).
 */
export function toWireEvent(row: WireEventRow): SyncEvent {
  return {
    event_id: row.event_id,
    store_id: row.store_id,
    device_id: row.device_id,
    seq: Number(row.seq),
    type: row.type,
    vector_clock: row.vector_clock,
    payload: row.payload,
    created_at: row.created_at.toISOString(),
    actor_user_id: row.actor_user_id,
    origin_node: row.origin_node,
    hlc: row.hlc.toISOString(),
    ...(row.delta_payload === null || row.delta_payload === undefined
      ? {}
      : { delta_payload: row.delta_payload }),
  } as SyncEvent;
}

export interface PeerClientOptions {
  timeoutMs?: number;
  /** This node's id, sent as the push envelope's device_id (peers ignore it for peer tokens). */
  nodeId: string;
}

/** Counts what crossed the wire, for the reconcile result and the benchmarks. */
export interface TrafficCounter {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

export function newTraffic(): TrafficCounter {
  return { requests: 0, bytesSent: 0, bytesReceived: 0 };
}

/** Talks to one peer node's HTTP API with the pair's shared token. */
export class PeerClient {
  private readonly timeoutMs: number;

  constructor(
    readonly peer: PeerConfig,
    private readonly opts: PeerClientOptions,
    readonly traffic: TrafficCounter = newTraffic(),
  ) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  push(storeId: string, events: SyncEvent[]): Promise<PushResponse> {
    return this.request<PushResponse>('POST', '/sync/push', {
      body: { store_id: storeId, device_id: this.opts.nodeId, events },
    });
  }

  get<T>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    return this.request<T>('GET', `${path}?${qs.toString()}`, {});
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  /** Round-trip time of the peer's liveness route, in ms (throws if it is not healthy). */
  async probe(): Promise<number> {
    const started = Date.now();
    await this.request('GET', '/healthz', { auth: false });
    return Date.now() - started;
  }

  private async request<T>(method: string, path: string, o: { body?: unknown; auth?: boolean }): Promise<T> {
    const url = new URL(path, this.peer.url).toString();
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = {};
    if (o.auth !== false) headers.authorization = `Bearer ${this.peer.token}`;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    this.traffic.requests += 1;
    this.traffic.bytesSent += (payload?.length ?? 0) + path.length;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const reason =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new PeerError(
        `${method} ${path} to peer ${this.peer.id} failed: ${reason}`,
        null,
        true,
        'PEER_UNREACHABLE',
      );
    }
    const text = await res.text();
    this.traffic.bytesReceived += text.length;
    if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    // 5xx, 429, and auth problems (a token being rotated) heal by themselves or by an operator;
    // 400/404/409/413/422 say this very request will never be accepted as it is.
    const transient = res.status >= 500 || res.status === 429 || res.status === 401 || res.status === 403;
    throw new PeerError(
      `${method} ${path} to peer ${this.peer.id}: ${res.status} ${code}: ${message}`,
      res.status,
      transient,
      code,
    );
  }
}
