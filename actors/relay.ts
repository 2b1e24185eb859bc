import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from '../infra/config';
import type { Log } from '../infra/log';
import {
  configureSignal,
  configureUpdate,
  nudgeSignal,
  peerRelayWorkflow,
  setPausedUpdate,
  type PauseAnswer,
  type RelayInput,
  type RelaySettings,
  type RelaySettingsPatch,
} from '../workflows/relay';
import { nodeOfActorId, relayWorkflowId } from '../workflows/ids';
import { actorOwner } from './namespace-guard';
import { queryRelayStatus } from './relay-status';
import { PeerIdKey } from '../workflows/search-keys';

export { relayWorkflowId } from '../workflows/ids';

/** How long start-up waits for an old relay to tell its cursor before starting afresh without it. */
const LEGACY_QUERY_TIMEOUT_MS = 5000;

/**
 * How long an admin's pause, resume or configure waits for the relay's answer. A pause answers once
 * the batch under way (if any) is done, which takes at most a few peer requests.
 */
export const RELAY_UPDATE_TIMEOUT_MS = 30_000;

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
 * running actor just receives the current settings). This node's relays of peers no longer
 * configured are terminated so they stop knocking on a door that is gone; a relay of this node
 * under its id from before ids carried the node id (`relay:{peerId}`) hands its cursor, circuit and
 * counters to the new one and is terminated. Another node's relays are never touched. The worker
 * must be running (the old relay answers a query).
 */
export async function ensureRelays(client: Client, config: Config, log: Log): Promise<void> {
  const settings = relaySettings(config);
  const own: { workflowId: string; legacy: boolean }[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = '${peerRelayWorkflow.name}' AND ExecutionStatus = 'Running'`,
  })) {
    if (actorOwner(wf.workflowId, wf.memo) !== config.NODE_ID) continue;
    own.push({ workflowId: wf.workflowId, legacy: nodeOfActorId(wf.workflowId) === undefined });
  }
  const carried = new Map<string, Omit<RelayInput, 'peerId' | 'settings'>>();
  for (const { workflowId } of own.filter((r) => r.legacy)) {
    const status = await queryRelayStatus(client, workflowId, LEGACY_QUERY_TIMEOUT_MS).catch(
      (err: unknown) => {
        log.warn(
          { err, workflowId },
          'old relay did not tell its cursor; the new one starts from the beginning',
        );
        return undefined;
      },
    );
    if (status) {
      const { cursor, circuit, paused, totals } = status;
      carried.set(status.peerId, { cursor, circuit, paused, totals });
    }
  }

  for (const peer of config.PEERS) {
    await client.workflow.signalWithStart(peerRelayWorkflow, {
      workflowId: relayWorkflowId(config.NODE_ID, peer.id),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ ...carried.get(peer.id), peerId: peer.id, settings }],
      signal: configureSignal,
      signalArgs: [settings],
      typedSearchAttributes: [{ key: PeerIdKey, value: peer.id }],
      memo: { role: 'PeerRelay', peer: peer.id, peerUrl: peer.url, node: config.NODE_ID },
    });
  }
  const wanted = new Set(config.PEERS.map((p) => relayWorkflowId(config.NODE_ID, p.id)));
  for (const { workflowId, legacy } of own) {
    if (wanted.has(workflowId)) continue;
    await client.workflow
      .getHandle(workflowId)
      .terminate(legacy ? 'replaced by a relay whose id carries the node id' : 'peer removed from PEERS');
    log.warn(
      { workflowId },
      legacy
        ? 'terminated a relay of this node under its old id (its cursor moved to the new one)'
        : 'terminated the relay of a peer that is no longer configured',
    );
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
      .getHandle(relayWorkflowId(config.NODE_ID, peerId))
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

/** The relay of that peer is not running (never started, failed, or terminated). */
export class RelayNotRunningError extends Error {
  constructor(readonly workflowId: string) {
    super(`relay ${workflowId} is not running`);
    this.name = 'RelayNotRunningError';
  }
}

/** The relay's validator refused the change (nothing was written to its history). */
export class RelayChangeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayChangeRefusedError';
  }
}

/** No answer in time (no worker polling?). The change may still take effect when a worker picks it up. */
export class RelayNoAnswerError extends Error {
  constructor(readonly workflowId: string) {
    super(`relay ${workflowId}: no answer within ${RELAY_UPDATE_TIMEOUT_MS} ms (is a worker running?)`);
    this.name = 'RelayNoAnswerError';
  }
}

/** Runs an update on the relay within RELAY_UPDATE_TIMEOUT_MS, its failures told apart. */
async function updateRelay<R>(
  client: Client,
  workflowId: string,
  update: (handle: WorkflowHandle) => Promise<R>,
): Promise<R> {
  try {
    return await client.withDeadline(Date.now() + RELAY_UPDATE_TIMEOUT_MS, () =>
      update(client.workflow.getHandle(workflowId)),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new RelayNotRunningError(workflowId);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new RelayNoAnswerError(workflowId);
    if (err instanceof WorkflowUpdateFailedError) {
      throw new RelayChangeRefusedError(err.cause?.message ?? err.message);
    }
    throw err;
  }
}

/** Pauses (true) or resumes (false) this node's relay to a peer; answers once it has taken hold. */
export function setRelayPaused(
  client: Client,
  nodeId: string,
  peerId: string,
  paused: boolean,
): Promise<PauseAnswer> {
  return updateRelay(client, relayWorkflowId(nodeId, peerId), (h) =>
    h.executeUpdate(setPausedUpdate, { args: [paused] }),
  );
}

/** Changes some of the relay's settings (until the next worker start); answers the settings in force. */
export function configureRelay(
  client: Client,
  nodeId: string,
  peerId: string,
  patch: RelaySettingsPatch,
): Promise<RelaySettings> {
  return updateRelay(client, relayWorkflowId(nodeId, peerId), (h) =>
    h.executeUpdate(configureUpdate, { args: [patch] }),
  );
}
