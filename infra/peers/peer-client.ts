import type { z } from 'zod';
import type { PeerConfig } from '../config';
import type { EventRow } from '../db/schema';
import { describeIssues, PeerFailure } from '../../domain/errors';
import {
  debtDigestResponseSchema,
  digestResponseSchema,
  errorBodySchema,
  escrowRightsResponseSchema,
  fetchResponseSchema,
  fiscalBlockResponseSchema,
  leavesResponseSchema,
  newTraffic,
  PeerPath,
  pushResponseSchema,
  type DebtDigestLevel,
  type DebtDigestResponse,
  type DigestLevel,
  type DigestResponse,
  type EscrowRightsResponse,
  type FiscalBlockRequest,
  type FiscalBlockResponse,
  type PushResponse,
  type TrafficCounter,
  type WireEvent,
} from '../../domain/wire/peer-protocol';

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
export function toWireEvent(row: WireEventRow): WireEvent {
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
  };
}

export interface PeerClientOptions {
  timeoutMs?: number;
  /** This node's id, sent as the push envelope's device_id (peers ignore it for peer tokens). */
  nodeId: string;
}

type Query = Record<string, string | number | undefined>;

/**
 * Talks to one peer node's HTTP API with the pair's shared token. Every answer is parsed with the
 * wire contract (domain/wire/peer-protocol.ts): a peer that answers something else is a PeerError
 * (PEER_BAD_RESPONSE, not transient: the same request would get the same answer), never a value
 * of the wrong shape.
 */
export class PeerClient {
  private readonly timeoutMs: number;

  constructor(
    readonly peer: PeerConfig,
    private readonly opts: PeerClientOptions,
    readonly traffic: TrafficCounter = newTraffic(),
  ) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  push(storeId: string, events: WireEvent[]): Promise<PushResponse> {
    return this.request('POST', PeerPath.push, pushResponseSchema, {
      body: { store_id: storeId, device_id: this.opts.nodeId, events },
    });
  }

  /** One level of the peer's digest tree of a store (`day` for level=hour, `bucket` for prefix). */
  digests(
    storeId: string,
    level: DigestLevel,
    keys: { day?: string[]; bucket?: string[] } = {},
  ): Promise<DigestResponse> {
    return this.getJson(PeerPath.digests, digestResponseSchema, {
      store_id: storeId,
      level,
      day: keys.day?.join(','),
      bucket: keys.bucket?.join(','),
    });
  }

  /** Ids and payload hashes of the events in the peer's hour or prefix buckets. */
  leaves(storeId: string, buckets: string[]) {
    return this.getJson(PeerPath.events, leavesResponseSchema, {
      store_id: storeId,
      bucket: buckets.join(','),
    });
  }

  /** Events of a store by id, as the peer stores them, in causal order. */
  fetch(storeId: string, eventIds: string[]) {
    return this.request('POST', PeerPath.fetch, fetchResponseSchema, {
      body: { store_id: storeId, event_ids: eventIds },
    });
  }

  /** The peer's digests of a store's debt states (`bucket` for level=debts). */
  debts(storeId: string, level: DebtDigestLevel, bucket?: string[]): Promise<DebtDigestResponse> {
    return this.getJson(PeerPath.debts, debtDigestResponseSchema, {
      store_id: storeId,
      level,
      bucket: bucket?.join(','),
    });
  }

  /** Asks the peer to move up to `qty` of its escrow rights for a product to this node. */
  escrowRights(storeId: string, productId: string, qty: number): Promise<EscrowRightsResponse> {
    return this.request('POST', PeerPath.escrowRights, escrowRightsResponseSchema, {
      body: { store_id: storeId, product_id: productId, qty },
    });
  }

  /** Asks the series' home node for a block of fiscal numbers for this node. */
  fiscalBlock(request: FiscalBlockRequest): Promise<FiscalBlockResponse> {
    return this.request('POST', PeerPath.fiscalBlock, fiscalBlockResponseSchema, { body: request });
  }

  /** A GET of any route of the peer, its answer parsed with `schema`. */
  getJson<S extends z.ZodType>(path: string, schema: S, query: Query): Promise<z.infer<S>> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    return this.request('GET', `${path}?${qs.toString()}`, schema, {});
  }

  /** Round-trip time of the peer's liveness route, in ms (throws if it is not healthy). */
  async probe(): Promise<number> {
    const started = Date.now();
    await this.send('GET', PeerPath.health, { auth: false });
    return Date.now() - started;
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    o: { body?: unknown },
  ): Promise<z.infer<S>> {
    const { what, status, text } = await this.send(method, path, o);
    const bad = (why: string) =>
      new PeerError(
        `${what}: answer breaks the wire contract: ${why}`,
        status,
        false,
        PeerFailure.badResponse,
      );
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw bad(`not JSON: ${text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw bad(describeIssues(parsed.error.issues.slice(0, 5)));
    return parsed.data;
  }

  /** One HTTP exchange; resolves with a 2xx answer's text, throws a PeerError otherwise. */
  private async send(method: string, path: string, o: { body?: unknown; auth?: boolean }) {
    const url = new URL(path, this.peer.url).toString();
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = {};
    if (o.auth !== false) headers.authorization = `Bearer ${this.peer.token}`;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    this.traffic.requests += 1;
    this.traffic.bytesSent += (payload?.length ?? 0) + path.length;
    const what = `${method} ${path} to peer ${this.peer.id}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      const reason =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new PeerError(`${what} failed: ${reason}`, null, true, PeerFailure.unreachable);
    }
    this.traffic.bytesReceived += text.length;
    if (!res.ok) throw failureOf(what, res.status, text);
    return { what, status: res.status, text };
  }
}

/**
 * A refused request as a PeerError. 5xx, 429, and auth problems (a token being rotated) heal by
 * themselves or by an operator; 400/404/409/413/422 say this very request will never be accepted
 * as it is.
 */
function failureOf(what: string, status: number, text: string): PeerError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 500);
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) ({ code, message } = parsed.data.error);
  } catch {
    // not JSON: keep the raw text
  }
  const transient = status >= 500 || status === 429 || status === 401 || status === 403;
  return new PeerError(`${what}: ${status} ${code}: ${message}`, status, transient, code);
}
