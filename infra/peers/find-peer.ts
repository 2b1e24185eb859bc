import type { Config, PeerConfig } from '../config';
import { ApiError, AppError } from '../../domain/errors';

/** The configured peer of this id, if any: the one lookup (callers say what its absence means). */
export function findPeer(config: Pick<Config, 'PEERS'>, peerId: string): PeerConfig | undefined {
  return config.PEERS.find((p) => p.id === peerId);
}

/** The peer a request names; a 404 PEER_NOT_FOUND when PEERS has no such peer. */
export function requirePeer(config: Pick<Config, 'PEERS'>, peerId: string): PeerConfig {
  const peer = findPeer(config, peerId);
  if (!peer) throw new AppError(404, ApiError.peerNotFound, `peer_id: no peer ${peerId} in PEERS`);
  return peer;
}
