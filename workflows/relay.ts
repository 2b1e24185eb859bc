import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  PeerRelay,
  type PauseAnswer,
  type RelayInput,
  type RelaySettings,
  type RelaySettingsPatch,
  type RelayStatus,
} from '../domain/relay/peer-relay';
import { peerCall } from './profiles';

export type {
  PauseAnswer,
  RelayInput,
  RelaySettings,
  RelaySettingsPatch,
  RelayStatus,
  RelayTotals,
} from '../domain/relay/peer-relay';

/** Wakes the actor now (the API sends it after each commit, coalesced; polling covers a lost one). */
export const nudgeSignal = defineSignal('nudge');
/** The settings of a starting worker's config (sent with signal-with-start, so it needs no answer). */
export const configureSignal = defineSignal<[RelaySettings]>('configure');
/**
 * Pause (true) or resume (false) as a signal: what the API sent before these were updates. Kept so
 * that relays started then replay, and an older API node's request still works during a deploy.
 */
export const pauseSignal = defineSignal<[boolean]>('pause');
/**
 * Pause (true) or resume (false); answers once it has taken hold: after a pause no batch is under
 * way and none starts until resumed. Idempotent (`changed` says whether it was already so).
 */
export const setPausedUpdate = defineUpdate<PauseAnswer, [boolean]>('setPaused');
/** Changes some settings until the next worker start (which applies its config); answers the settings in force. */
export const configureUpdate = defineUpdate<RelaySettings, [RelaySettingsPatch]>('configureRelay');
export const statusQuery = defineQuery<RelayStatus>('status');

/** Activities with timeouts that follow the current settings (they may change at runtime). */
const peer = (settings: RelaySettings) => proxyActivities<Activities>(peerCall(settings.httpTimeoutMs));

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

const misconfigured = (err: unknown) =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable;

/**
 * PeerRelay: one per peer (`relay:{nodeId}:{peerId}`), forever (continue-as-new). The decisions are
 * the PeerRelay actor's (domain/relay/peer-relay.ts); this function registers the messages and runs
 * the actor's steps: an activity, or a durable wait.
 */
export async function peerRelayWorkflow(input: RelayInput): Promise<never> {
  const relay = new PeerRelay(input, log);
  setHandler(statusQuery, () => relay.status(Date.now()));
  setHandler(nudgeSignal, () => relay.nudge());
  setHandler(configureSignal, (settings) => {
    relay.configure(settings);
  });
  setHandler(pauseSignal, (paused) => {
    relay.setPaused(paused);
  });
  setHandler(
    setPausedUpdate,
    async (paused) => {
      const { changed } = relay.setPaused(paused);
      await condition(() => relay.settled());
      return relay.pauseAnswer(changed);
    },
    {
      validator: (paused) => {
        if (typeof paused !== 'boolean') throw new Error('setPaused takes true (pause) or false (resume)');
      },
    },
  );
  setHandler(configureUpdate, (patch) => relay.configure(patch), {
    validator: (patch) => relay.validateConfigure(patch),
  });

  for (;;) {
    const step = relay.next(Date.now(), workflowInfo().continueAsNewSuggested);
    if (step.kind === 'continue-as-new') {
      await condition(allHandlersFinished);
      return continueAsNew<typeof peerRelayWorkflow>(relay.carry());
    }
    if (step.kind === 'paused') {
      await condition(() => relay.woken());
      continue;
    }
    if (step.kind === 'open') {
      await condition(() => relay.interrupted('pause'), step.ms);
      continue;
    }
    let then;
    try {
      if (step.probeFirst) {
        const { httpTimeoutMs } = relay.currentSettings;
        await peer(relay.currentSettings).probePeer({ peerId: relay.peerId, httpTimeoutMs });
        relay.probed(Date.now());
      }
      // Settings read now: a configure during the probe applies to this batch.
      const { batchSize, httpTimeoutMs } = relay.currentSettings;
      relay.batchStarting();
      const r = await peer(relay.currentSettings).relayBatch({
        peerId: relay.peerId,
        cursor: step.cursor,
        batchSize,
        httpTimeoutMs,
      });
      then = relay.batchDone(r, Date.now());
    } catch (err) {
      // Misconfiguration (peer no longer in PEERS): stop loudly rather than spin.
      if (misconfigured(err)) throw err;
      then = relay.failed(failureMessage(err), Date.now());
    }
    if (then.kind === 'wait') {
      const { until } = then;
      await condition(() => relay.interrupted(until), then.ms);
    }
  }
}
