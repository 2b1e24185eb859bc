import type { Config } from '../config';
import type { Db } from '../db';
import { requirePeer } from '../peers/find-peer';
import { PeerClient, PeerError, toWireEvent } from '../peers/peer-client';
import { findEvent } from '../repositories/events';
import {
  findDeadLetter,
  recordDeadLetterAttempt,
  resolveDeadLetter,
  type RelayDeadLetter,
} from '../repositories/relay-dead-letters';
import { ApiError, AppError, PeerFailure } from '../../domain/errors';

// What an operator does with an event a peer refused for good (docs/runbook.md): push it to its
// peer again, or close it by hand.

/** A dead letter by id; a 404 DEAD_LETTER_NOT_FOUND when there is none. */
export async function requireDeadLetter(db: Db, id: number): Promise<RelayDeadLetter> {
  const row = await findDeadLetter(db, String(id));
  if (!row) throw new AppError(404, ApiError.deadLetterNotFound, `id: no dead letter ${id}`);
  return row;
}

/**
 * Pushes a dead-lettered event to its peer again now. Taken: the letter is resolved. Refused (in the
 * answer, or a 4xx): the attempt is counted with the peer's reason. The peer unavailable: a 503
 * PEER_UNAVAILABLE and the letter is left as it was.
 */
export async function retryDeadLetter(
  db: Db,
  config: Pick<Config, 'PEERS' | 'NODE_ID' | 'RELAY_HTTP_TIMEOUT_MS'>,
  id: number,
): Promise<RelayDeadLetter> {
  const letter = await requireDeadLetter(db, id);
  const peer = requirePeer(config, letter.peer_id);
  const event = await findEvent(db, letter.store_id, letter.event_id);
  if (!event) {
    throw new AppError(404, ApiError.eventNotFound, `event ${letter.event_id} is no longer in the log`);
  }
  let outcome: { ok: true } | { ok: false; code: string; message: string };
  try {
    const res = await new PeerClient(peer, {
      nodeId: config.NODE_ID,
      timeoutMs: config.RELAY_HTTP_TIMEOUT_MS,
    }).push(event.store_id, [toWireEvent(event)]);
    const refused = res.rejected[0];
    outcome = refused ? { ok: false, code: refused.code, message: refused.message } : { ok: true };
  } catch (err) {
    if (err instanceof PeerError && err.transient) {
      throw new AppError(503, ApiError.peerUnavailable, err.message);
    }
    outcome = {
      ok: false,
      code: err instanceof PeerError ? err.code : PeerFailure.unknown,
      message: err instanceof Error ? err.message : String(err),
    };
  }
  return outcome.ok
    ? resolveDeadLetter(db, letter.id, 'retried: accepted by the peer')
    : recordDeadLetterAttempt(db, letter.id, outcome);
}
