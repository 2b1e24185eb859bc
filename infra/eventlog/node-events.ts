import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { EventType, PayloadOf, SyncEvent } from '../../domain/events/schemas';

// Events this node makes itself (escrow grants, consumptions, releases, rights moves): they go into
// the log like any other, so they replicate through the relay and every node projects them. Their
// device is the node (`node:{NODE_ID}`), numbered by the node_event_seq sequence, so two processes
// of one node never hand out one seq twice.

type Executor = Db | Transaction<Database>;

export const nodeDeviceId = (nodeId: string): string => `node:${nodeId}`;

export interface NodeEventDraft<T extends EventType = EventType> {
  store_id: string;
  type: T;
  payload: PayloadOf<T>;
}

/** Gives drafts an envelope: a fresh event id, the node's device, the next seqs, now as created_at. */
export async function nodeEvents(
  db: Executor,
  nodeId: string,
  drafts: NodeEventDraft[],
): Promise<SyncEvent[]> {
  if (drafts.length === 0) return [];
  const seqs = await sql<{ seq: string }>`
    SELECT nextval('node_event_seq')::text AS seq FROM generate_series(1, ${drafts.length})`.execute(db);
  const device = nodeDeviceId(nodeId);
  const now = new Date().toISOString();
  return drafts.map((d, i) => {
    const seq = Number(seqs.rows[i]!.seq);
    return {
      event_id: randomUUID(),
      store_id: d.store_id,
      device_id: device,
      seq,
      vector_clock: { [device]: seq },
      created_at: now,
      type: d.type,
      payload: d.payload,
    } as SyncEvent;
  });
}
