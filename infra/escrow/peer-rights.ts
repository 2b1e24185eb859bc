import type { Config } from '../config';
import type { Db } from '../db';
import type { Log } from '../log';
import { ingestEvents } from '../eventlog/ingest';
import { PeerClient } from '../peers/peer-client';
import { syncEventSchema } from '../../domain/events/schemas';

/**
 * Asks the peers, one after the other, to move escrow rights for a product to this node until
 * `qty` is covered, and ingests each EscrowRightsMoved they answer with at once (the relay brings
 * it again later, as a duplicate). A peer that is down or has none to spare is skipped: the grant
 * then goes ahead with the rights held here. Bounded by RELAY_HTTP_TIMEOUT_MS per peer.
 */
export function createRightsRequester(
  db: Db,
  config: Pick<Config, 'NODE_ID' | 'PEERS' | 'RELAY_HTTP_TIMEOUT_MS' | 'HLC_MAX_SKEW_MS'>,
  log: Log,
) {
  return async (storeId: string, productId: string, qty: number): Promise<void> => {
    let missing = qty;
    for (const peer of config.PEERS) {
      if (missing <= 0) return;
      const client = new PeerClient(peer, {
        nodeId: config.NODE_ID,
        timeoutMs: config.RELAY_HTTP_TIMEOUT_MS,
      });
      try {
        const answer = await client.escrowRights(storeId, productId, missing);
        if (!answer.event) continue;
        const event = syncEventSchema.safeParse(answer.event);
        const move = event.success && event.data.type === 'EscrowRightsMoved' ? event.data : null;
        if (
          !move ||
          move.store_id !== storeId ||
          move.payload.from_node !== peer.id ||
          move.payload.to_node !== config.NODE_ID ||
          move.payload.product_id !== productId
        ) {
          log.warn({ peer: peer.id }, 'peer answered escrow rights with an event that is not its move');
          continue;
        }
        await ingestEvents(
          db,
          [move],
          {
            nodeId: config.NODE_ID,
            source: 'system-federation',
            sourcePeer: peer.id,
            maxSkewMs: config.HLC_MAX_SKEW_MS,
          },
          log,
        );
        missing -= answer.moved;
        log.info(
          { peer: peer.id, store_id: storeId, product_id: productId, moved: answer.moved },
          'escrow rights received',
        );
      } catch (err) {
        log.warn(
          { err, peer: peer.id, store_id: storeId, product_id: productId },
          'escrow rights request failed',
        );
      }
    }
  };
}
