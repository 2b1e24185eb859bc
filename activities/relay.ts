import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql } from 'kysely';
import type { Config, PeerConfig } from '../core/config';
import type { Db } from '../core/db';
import { orderCausally } from '../core/federation/priority';
import {
  PeerClient,
  PeerError,
  toWireEvent,
  WIRE_COLUMNS,
  type WireEventRow,
} from '../core/federation/peer-client';
import type { Log } from '../core/log';

export interface RelayBatchInput {
  peerId: string;
  /** Last node_seq already handled for this peer. */
  cursor: number;
  batchSize: number;
  httpTimeoutMs: number;
}

export interface RelayBatchResult {
  /** The new cursor: the highest node_seq read (sent, skipped as an echo, or dead-lettered). */
  cursor: number;
  read: number;
  sent: number;
  accepted: number;
  duplicates: number;
  deadLettered: number;
  /** Whether the peer was contacted (a circuit-breaker success only counts then). */
  contacted: boolean;
  hasMore: boolean;
}

export interface RelayDeps {
  db: Db;
  config: Pick<Config, 'NODE_ID' | 'PEERS'>;
  log: Log;
}

type Row = WireEventRow & { node_seq: string; source_peer: string | null };

interface DeadLetter {
  row: Row;
  code: string;
  message: string;
}

/** Error types the relay workflow tells apart (its circuit breaker counts PEER_UNAVAILABLE). */
export const RelayErrors = {
  peerUnavailable: 'PEER_UNAVAILABLE',
  unknownPeer: 'UNKNOWN_PEER',
} as const;

export function findPeer(config: Pick<Config, 'PEERS'>, peerId: string): PeerConfig {
  const peer = config.PEERS.find((p) => p.id === peerId);
  if (!peer) {
    throw ApplicationFailure.create({
      type: RelayErrors.unknownPeer,
      message: `peer ${peerId} is not in PEERS`,
      nonRetryable: true,
    });
  }
  return peer;
}

/**
 * The PeerRelay actor's I/O: read the next slice of the log after the cursor, push it to the peer in
 * causal order (one request per store), and put events the peer refuses for good into
 * relay_dead_letters so they never block the rest. Events that came from this very peer are skipped
 * (no echo). Transient failures throw PEER_UNAVAILABLE and leave the cursor where it was.
 */
export function createRelayActivities({ db, config, log }: RelayDeps) {
  async function relayBatch(input: RelayBatchInput): Promise<RelayBatchResult> {
    const peer = findPeer(config, input.peerId);
    const client = new PeerClient(peer, { nodeId: config.NODE_ID, timeoutMs: input.httpTimeoutMs });
    const rows = (await db
      .selectFrom('events')
      .select(['node_seq', ...WIRE_COLUMNS, 'source_peer'])
      .where('node_seq', '>', String(input.cursor))
      .orderBy('node_seq')
      .limit(input.batchSize)
      .execute()) as Row[];
    const result: RelayBatchResult = {
      cursor: input.cursor,
      read: rows.length,
      sent: 0,
      accepted: 0,
      duplicates: 0,
      deadLettered: 0,
      contacted: false,
      hasMore: rows.length === input.batchSize,
    };
    if (rows.length === 0) return result;

    const outgoing = orderCausally(rows.filter((r) => r.source_peer !== peer.id));
    const byStore = new Map<string, Row[]>();
    for (const r of outgoing) {
      const group = byStore.get(r.store_id) ?? [];
      group.push(r);
      byStore.set(r.store_id, group);
    }
    const dead: DeadLetter[] = [];
    try {
      for (const [storeId, group] of byStore) {
        await pushGroup(client, storeId, group, result, dead);
      }
    } catch (err) {
      if (err instanceof PeerError && err.transient) {
        throw ApplicationFailure.create({ type: RelayErrors.peerUnavailable, message: err.message });
      }
      throw err;
    }
    if (dead.length > 0) await recordDeadLetters(peer.id, dead);
    result.deadLettered = dead.length;
    result.cursor = Number(rows[rows.length - 1]!.node_seq);
    return result;
  }

  /** Pushes one store's events; a batch the peer refuses as a whole is split to find the culprits. */
  async function pushGroup(
    client: PeerClient,
    storeId: string,
    rows: Row[],
    result: RelayBatchResult,
    dead: DeadLetter[],
  ) {
    result.contacted = true;
    Context.current().heartbeat();
    try {
      const res = await client.push(storeId, rows.map(toWireEvent));
      result.sent += rows.length;
      result.accepted += res.accepted.length;
      result.duplicates += res.duplicates.length;
      const byId = new Map(rows.map((r) => [r.event_id, r]));
      for (const r of res.rejected) {
        const row = r.event_id === null ? undefined : byId.get(r.event_id.toLowerCase());
        if (row) dead.push({ row, code: r.code, message: r.message });
      }
    } catch (err) {
      if (!(err instanceof PeerError) || err.transient) throw err;
      if (rows.length === 1) {
        dead.push({ row: rows[0]!, code: err.code, message: err.message });
        return;
      }
      const half = Math.ceil(rows.length / 2);
      await pushGroup(client, storeId, rows.slice(0, half), result, dead);
      await pushGroup(client, storeId, rows.slice(half), result, dead);
    }
  }

  async function recordDeadLetters(peerId: string, dead: DeadLetter[]): Promise<void> {
    const rows = dead.map((d) => ({
      peer_id: peerId,
      event_id: d.row.event_id,
      store_id: d.row.store_id,
      node_seq: d.row.node_seq,
      type: d.row.type,
      error_code: d.code,
      error_message: d.message.slice(0, 2000),
    }));
    await sql`
      INSERT INTO relay_dead_letters (peer_id, event_id, store_id, node_seq, type, error_code, error_message)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
        peer_id text, event_id uuid, store_id uuid, node_seq bigint, type text, error_code text, error_message text)
      ON CONFLICT (peer_id, event_id) DO UPDATE SET
        error_code = excluded.error_code, error_message = excluded.error_message, status = 'open',
        attempts = relay_dead_letters.attempts + 1, updated_at = now(), resolved_at = NULL, resolution = NULL`.execute(
      db,
    );
    for (const d of dead) {
      log.warn(
        { peer: peerId, event_id: d.row.event_id, type: d.row.type, code: d.code },
        'peer refused an event for good; moved to relay_dead_letters',
      );
    }
  }

  /** A liveness probe of the peer (the half-open circuit's test request). Returns latency in ms. */
  async function probePeer(input: { peerId: string; httpTimeoutMs: number }): Promise<number> {
    const peer = findPeer(config, input.peerId);
    try {
      return await new PeerClient(peer, { nodeId: config.NODE_ID, timeoutMs: input.httpTimeoutMs }).probe();
    } catch (err) {
      throw ApplicationFailure.create({
        type: RelayErrors.peerUnavailable,
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }

  return { relayBatch, probePeer };
}

export type RelayActivities = ReturnType<typeof createRelayActivities>;
