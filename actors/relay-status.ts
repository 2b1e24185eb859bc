import type { Client } from '@temporalio/client';
import type { Config, PeerConfig } from '../infra/config';
import type { Db } from '../infra/db';
import { relayLag } from '../infra/repositories/events';
import { countOpenDeadLetters } from '../infra/repositories/relay-dead-letters';
import { withTimeout } from '../infra/timeout';
import { relayWorkflowId } from '../workflows/ids';
import { statusQuery, type RelayStatus } from '../workflows/relay';

/** How long the status route waits for a relay to answer its query. */
const STATUS_QUERY_TIMEOUT_MS = 3000;

/** One relay's state as its actor tells it, with what this node's log and dead letters add. */
export interface RelayReport {
  peer: PeerConfig;
  workflowId: string;
  /** null when the actor could not be asked (no worker, not started, no Temporal client). */
  status: RelayStatus | null;
  error: string | null;
  /** Events committed here after the relay's cursor (null without a status). */
  lag: { events: number; oldestReceivedAt: Date | null } | null;
  deadLettersOpen: number;
}

/** Asks a relay actor for its state; rejects after `timeoutMs` (a relay whose worker is down). */
export function queryRelayStatus(
  client: Client,
  workflowId: string,
  timeoutMs: number,
): Promise<RelayStatus> {
  return withTimeout(
    client.workflow.getHandle(workflowId).query(statusQuery),
    timeoutMs,
    `query ${workflowId}: no answer within ${timeoutMs} ms (is a worker running?)`,
  );
}

/** Every configured peer's relay, asked in parallel; a relay that cannot be asked says why. */
export async function relayReports(
  temporal: Client | undefined,
  db: Db,
  config: Pick<Config, 'NODE_ID' | 'PEERS'>,
): Promise<RelayReport[]> {
  const letters = await countOpenDeadLetters(db);
  return Promise.all(
    config.PEERS.map(async (peer): Promise<RelayReport> => {
      const workflowId = relayWorkflowId(config.NODE_ID, peer.id);
      let status: RelayStatus | null = null;
      let error: string | null = null;
      try {
        if (!temporal) throw new Error('this process has no Temporal client');
        status = await queryRelayStatus(temporal, workflowId, STATUS_QUERY_TIMEOUT_MS);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const lag = status ? await relayLag(db, peer.id, status.cursor) : null;
      return { peer, workflowId, status, error, lag, deadLettersOpen: letters.get(peer.id) ?? 0 };
    }),
  );
}
