import { Context } from '@temporalio/activity';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import type { ExhaustedRange } from '../infra/projections';
import { listStoreIds } from '../infra/repositories/stores';
import type { EntityTally, WalkOptions } from '../domain/reconcile/digest-walk';
import type { TrafficCounter } from '../domain/wire/peer-protocol';
import type { PeerClient } from '../infra/peers/peer-client';
import { diffStore, pullEvents, pushEvents } from '../infra/reconcile/repair';
import type { Logger } from 'pino';
import { peerClientFor, peerFailure } from './peers';

// StoreReconcile's I/O, split so that a worker killed mid-reconcile resumes where it was: the diff
// returns id lists (kept in the workflow history), and each pull or push of a chunk is its own
// activity. Every step is idempotent — ingest dedupes by event id and hash, on both nodes — so a
// retried chunk only costs traffic.

export interface ReconcileDeps {
  db: Db;
  config: Pick<Config, 'NODE_ID' | 'PEERS'>;
  log: Logger;
  /** Tells the FiscalRange workflows of ranges a pulled sale used up (as a push does). */
  onFiscalExhausted?: (ranges: ExhaustedRange[]) => void;
}

export interface ReconcileStepInput {
  storeId: string;
  peerId: string;
  httpTimeoutMs: number;
}

export interface DiffInput extends ReconcileStepInput {
  walk?: Partial<WalkOptions>;
}

export interface DiffOutput {
  inSync: boolean;
  missingHere: string[];
  missingThere: string[];
  conflicts: string[];
  truncated: boolean;
  remoteMissing: EntityTally;
  traffic: TrafficCounter;
}

export interface ChunkInput extends ReconcileStepInput {
  eventIds: string[];
}

export interface PullOutput {
  fetched: EntityTally;
  replayed: EntityTally;
  conflicts: string[];
  refused: number;
  traffic: TrafficCounter;
}

export interface PushOutput {
  replayed: EntityTally;
  conflicts: string[];
  refused: number;
  traffic: TrafficCounter;
}

function heartbeat(): void {
  Context.current().heartbeat();
}

/**
 * Runs a step while heartbeating every 2 s: the workflow's heartbeat timeout then notices a killed
 * worker within seconds (instead of the step's whole start-to-close timeout) and retries elsewhere.
 */
async function heartbeating<T>(step: () => Promise<T>): Promise<T> {
  heartbeat();
  const beat = setInterval(heartbeat, 2000);
  try {
    return await step();
  } catch (err) {
    // Transient failures are retried by the step's policy; a refusal fails the reconcile.
    throw peerFailure(err, 'final');
  } finally {
    clearInterval(beat);
  }
}

const copy = (t: TrafficCounter): TrafficCounter => ({ ...t });

export function createReconcileActivities({ db, config, log, onFiscalExhausted }: ReconcileDeps) {
  const rlog = log.child({ component: 'reconcile' });

  function clientFor(input: ReconcileStepInput): PeerClient {
    return peerClientFor(config, input.peerId, input.httpTimeoutMs);
  }

  return {
    /** Walks both digest trees of the store; returns the ids each side lacks (at most walk.maxIds). */
    async diffWithPeer(input: DiffInput): Promise<DiffOutput> {
      const client = clientFor(input);
      return heartbeating(async () => {
        const diff = await diffStore(db, client, input.storeId, input.walk);
        rlog.info(
          {
            store_id: input.storeId,
            peer: input.peerId,
            in_sync: diff.inSync,
            missing_here: diff.missingHere.length,
            missing_there: diff.missingThere.length,
            conflicts: diff.conflicts.length,
            requests: client.traffic.requests,
          },
          'reconcile diff',
        );
        return { ...diff, traffic: copy(client.traffic) };
      });
    },

    /** Fetches a chunk of events from the peer and ingests them here. */
    async pullFromPeer(input: ChunkInput): Promise<PullOutput> {
      const client = clientFor(input);
      return heartbeating(async () => {
        const r = await pullEvents(db, client, input.storeId, input.eventIds, {
          nodeId: config.NODE_ID,
          log: rlog,
        });
        if (r.fiscalExhausted.length > 0) onFiscalExhausted?.(r.fiscalExhausted);
        return {
          fetched: r.fetched,
          replayed: r.replayed,
          conflicts: r.conflicts,
          refused: r.refused.length,
          traffic: copy(client.traffic),
        };
      });
    },

    /** Pushes a chunk of this node's events to the peer, in causal order. */
    async pushToPeer(input: ChunkInput): Promise<PushOutput> {
      const client = clientFor(input);
      return heartbeating(async () => {
        const r = await pushEvents(db, client, input.storeId, input.eventIds, { log: rlog });
        return {
          replayed: r.replayed,
          conflicts: r.conflicts,
          refused: r.refused.length,
          traffic: copy(client.traffic),
        };
      });
    },

    /** Every store this node holds, and its peers: what ReconcileSweep pairs up. */
    async listReconcileTargets(): Promise<{ storeIds: string[]; peerIds: string[] }> {
      return { storeIds: await listStoreIds(db), peerIds: config.PEERS.map((p) => p.id) };
    },
  };
}
