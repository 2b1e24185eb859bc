import { ApplicationFailure } from '@temporalio/activity';
import type { Config, PeerConfig } from '../infra/config';
import { findPeer } from '../infra/peers/find-peer';
import { PeerClient, PeerError } from '../infra/peers/peer-client';
import { Failure } from '../domain/errors';

// What every activity that talks to a peer shares: finding the peer, and telling the workflow what
// a failed call means, in the ApplicationFailure types of domain/errors.ts.

/** The peer of an activity input; UNKNOWN_PEER (final) when PEERS no longer has it. */
export function peerOf(config: Pick<Config, 'PEERS'>, peerId: string): PeerConfig {
  const peer = findPeer(config, peerId);
  if (!peer) {
    throw ApplicationFailure.create({
      type: Failure.unknownPeer,
      message: `peer ${peerId} is not in PEERS`,
      nonRetryable: true,
    });
  }
  return peer;
}

export function peerClientFor(
  config: Pick<Config, 'PEERS' | 'NODE_ID'>,
  peerId: string,
  httpTimeoutMs: number,
): PeerClient {
  return new PeerClient(peerOf(config, peerId), { nodeId: config.NODE_ID, timeoutMs: httpTimeoutMs });
}

/**
 * A failed peer call as the workflow should see it. A transient PeerError (unreachable, 5xx, auth
 * being rotated) is PEER_UNAVAILABLE, retried. Another PeerError says this request will never work
 * (a 4xx, an answer that breaks the contract): PEER_REFUSED, final — unless the caller treats every
 * peer failure as the peer being unavailable (`refusals: 'unavailable'`: the relay, whose circuit
 * breaker counts them and which sets single events aside itself). Anything else passes unchanged.
 */
export function peerFailure(err: unknown, refusals: 'final' | 'unavailable'): unknown {
  if (!(err instanceof PeerError)) return err;
  if (err.transient || refusals === 'unavailable') {
    return ApplicationFailure.create({ type: Failure.peerUnavailable, message: err.message });
  }
  return ApplicationFailure.create({ type: Failure.peerRefused, message: err.message, nonRetryable: true });
}
