import { Context } from '@temporalio/activity';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { PeerError, toWireEvent } from '../infra/peers/peer-client';
import { PeerFailure } from '../domain/errors';
import { orderCausally } from '../domain/relay/priority';
import { pushSplitting, type FailureKind, type Refusal } from '../domain/relay/split-push';
import type { Log } from '../infra/log';
import { readRelaySlice, type RelayEventRow } from '../infra/repositories/events';
import { recordDeadLetters, type NewRelayDeadLetter } from '../infra/repositories/relay-dead-letters';
import { peerClientFor, peerFailure } from './peers';

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
  config: Pick<Config, 'NODE_ID' | 'PEERS' | 'RELAY_BATCH_MAX_BYTES'>;
  log: Log;
}

/**
 * Tries, after the first failure, of an event the peer answers 500 for when it is pushed alone (and
 * takes other pushes meanwhile), before it is set aside; and the pause before each further round.
 */
const POISON_RETRIES = 2;
const POISON_RETRY_PAUSE_MS = 250;

/**
 * How the relay reads a failed push (see domain/relay/split-push.ts). A 500 may be the peer
 * choking on one event, so it is split to find out; 502/503/504 say the peer (or what is in front of
 * it) is unavailable, whatever the events: they, like 429, auth being rotated and unreachable peers,
 * never set an event aside. Other 4xx (400, 404, 409, 413, 422) refuse the request as it is.
 */
export function classifyPushFailure(err: unknown): FailureKind {
  if (!(err instanceof PeerError) || err.status === null) return 'transient';
  if ([429, 401, 403, 502, 503, 504].includes(err.status)) return 'transient';
  if (err.status >= 500) return 'failing';
  return err.status >= 400 ? 'refused' : 'transient';
}

/**
 * The PeerRelay actor's I/O: read the next slice of the log after the cursor (bounded by count and
 * by bytes), push it to the peer in causal order (one request per store), and put events the peer
 * refuses for good into relay_dead_letters so they never block the rest. Events that came from this
 * very peer are skipped (no echo). Transient failures, and a peer that fails every push, throw
 * PEER_UNAVAILABLE (activities/peers.ts; the circuit breaker counts it) and leave the cursor where
 * it was.
 */
export function createRelayActivities({ db, config, log }: RelayDeps) {
  async function relayBatch(input: RelayBatchInput): Promise<RelayBatchResult> {
    const client = peerClientFor(config, input.peerId, input.httpTimeoutMs);
    const peer = client.peer;
    const slice = await readRelaySlice(db, {
      after: input.cursor,
      limit: input.batchSize,
      maxBytes: config.RELAY_BATCH_MAX_BYTES,
      peerId: peer.id,
    });
    const result: RelayBatchResult = {
      cursor: input.cursor,
      read: slice.read,
      sent: 0,
      accepted: 0,
      duplicates: 0,
      deadLettered: 0,
      contacted: false,
      hasMore: slice.more,
    };
    if (slice.lastSeq === null) return result;

    const byStore = new Map<string, RelayEventRow[]>();
    for (const r of orderCausally(slice.events)) {
      const group = byStore.get(r.store_id) ?? [];
      group.push(r);
      byStore.set(r.store_id, group);
    }
    const dead: NewRelayDeadLetter[] = [];
    const letter = (row: RelayEventRow, code: string, message: string): NewRelayDeadLetter => ({
      event_id: row.event_id,
      store_id: row.store_id,
      node_seq: row.node_seq,
      type: row.type,
      error_code: code,
      error_message: message,
    });
    const send = async (rows: RelayEventRow[]) => {
      result.contacted = true;
      Context.current().heartbeat();
      const res = await client.push(rows[0]!.store_id, rows.map(toWireEvent));
      result.accepted += res.accepted.length;
      result.duplicates += res.duplicates.length;
      result.sent += res.accepted.length + res.duplicates.length;
      // Refused one by one inside a taken request (EVENT_ID_CONFLICT, validation): final as well.
      // `index` is the event's position in this request; the id is checked too, in case of a mix-up.
      for (const r of res.rejected) {
        const row = rows[r.index];
        if (row && (r.event_id === null || row.event_id === r.event_id.toLowerCase())) {
          dead.push(letter(row, r.code, r.message));
        }
      }
    };
    let refusals: Refusal<RelayEventRow>[];
    try {
      refusals = await pushSplitting([...byStore.values()], {
        send,
        classify: classifyPushFailure,
        retries: POISON_RETRIES,
        pause: (round) => Context.current().sleep(POISON_RETRY_PAUSE_MS * round),
      });
    } catch (err) {
      throw peerFailure(err, 'unavailable');
    }
    for (const { item, error } of refusals) {
      const e =
        error instanceof PeerError ? error : new PeerError(String(error), null, false, PeerFailure.unknown);
      dead.push(letter(item, e.code, e.message));
    }
    if (dead.length > 0) {
      await recordDeadLetters(db, peer.id, dead);
      for (const d of dead) {
        log.warn(
          { peer: peer.id, event_id: d.event_id, type: d.type, code: d.error_code },
          'peer refused an event for good; moved to relay_dead_letters',
        );
      }
    }
    result.deadLettered = dead.length;
    result.cursor = Number(slice.lastSeq);
    return result;
  }

  /** A liveness probe of the peer (the half-open circuit's test request). Returns latency in ms. */
  async function probePeer(input: { peerId: string; httpTimeoutMs: number }): Promise<number> {
    const client = peerClientFor(config, input.peerId, input.httpTimeoutMs);
    try {
      return await client.probe();
    } catch (err) {
      throw peerFailure(err, 'unavailable');
    }
  }

  return { relayBatch, probePeer };
}

export type RelayActivities = ReturnType<typeof createRelayActivities>;
