import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Log } from '../log';
import {
  configureSignal,
  nudgeSignal,
  peerRelayWorkflow,
  type RelaySettings,
} from '../../workflows/peer-relay';
import { PeerIdKey } from './search-keys';

export const relayWorkflowId = (peerId: string) => `relay:${peerId}`;

export function relaySettings(config: Config): RelaySettings {
  return {
    batchSize: config.RELAY_BATCH_SIZE,
    pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
    httpTimeoutMs: config.RELAY_HTTP_TIMEOUT_MS,
    backoffBaseMs: config.RELAY_BACKOFF_BASE_MS,
    backoffMaxMs: config.RELAY_BACKOFF_MAX_MS,
    circuit: {
      failureThreshold: config.RELAY_FAILURE_THRESHOLD,
      successThreshold: config.RELAY_SUCCESS_THRESHOLD,
      openMs: config.RELAY_OPEN_MS,
    },
  };
}

/**
 * At worker start: one PeerRelay per configured peer, started if missing (signal-with-start, so a
 * running actor just receives the current settings), and actors of peers no longer configured are
 * terminated so they stop knocking on a door that is gone.
 */
export async function ensureRelays(client: Client, config: Config, log: Log): Promise<void> {
  const settings = relaySettings(config);
  for (const peer of config.PEERS) {
    await client.workflow.signalWithStart(peerRelayWorkflow, {
      workflowId: relayWorkflowId(peer.id),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ peerId: peer.id, settings }],
      signal: configureSignal,
      signalArgs: [settings],
      typedSearchAttributes: [{ key: PeerIdKey, value: peer.id }],
      memo: { role: 'PeerRelay', peer: peer.id, peerUrl: peer.url, node: config.NODE_ID },
    });
  }
  const wanted = new Set(config.PEERS.map((p) => relayWorkflowId(p.id)));
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'peerRelayWorkflow' AND ExecutionStatus = 'Running'`,
  })) {
    if (wanted.has(wf.workflowId)) continue;
    await client.workflow.getHandle(wf.workflowId).terminate('peer removed from PEERS');
    log.warn({ workflowId: wf.workflowId }, 'terminated the relay of a peer that is no longer configured');
  }
  log.info({ peers: config.PEERS.map((p) => p.id) }, 'peer relays running');
}

/**
 * Wakes the relays after a commit, coalescing: the first commit signals at once, further commits in
 * the next window share one trailing signal, because every signal is a history event. A lost nudge
 * only delays relay until the actor's next poll.
 */
export function createRelayNudger(client: Client, config: Config, log: Log): (storeIds: string[]) => void {
  const windows = new Map<string, { again: boolean }>();
  const fire = (peerId: string) => {
    client.workflow
      .getHandle(relayWorkflowId(peerId))
      .signal(nudgeSignal)
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) log.warn({ err, peer: peerId }, 'relay nudge failed');
      });
    const window = { again: false };
    windows.set(peerId, window);
    setTimeout(() => {
      if (window.again) fire(peerId);
      else windows.delete(peerId);
    }, config.RELAY_NUDGE_COALESCE_MS).unref();
  };
  return () => {
    for (const peer of config.PEERS) {
      const window = windows.get(peer.id);
      if (window) window.again = true;
      else fire(peer.id);
    }
  };
}
