import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  closedCircuit,
  msUntilProbe,
  recordFailure,
  recordSuccess,
  tick,
  type CircuitOptions,
  type CircuitState,
} from '../domain/relay/circuit';
import { peerCall } from './profiles';

/** Activities with timeouts that follow the current settings (they may change at runtime). */
const peer = (settings: RelaySettings) => proxyActivities<Activities>(peerCall(settings.httpTimeoutMs));

export interface RelaySettings {
  batchSize: number;
  pollIntervalMs: number;
  httpTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  circuit: CircuitOptions;
}

export interface RelayInput {
  peerId: string;
  settings: RelaySettings;
  /** Carried across continue-as-new; a fresh actor starts at 0 (the beginning of the log). */
  cursor?: number;
  circuit?: CircuitState;
  paused?: boolean;
  totals?: RelayTotals;
}

export interface RelayTotals {
  relayed: number;
  deadLettered: number;
  batches: number;
}

export interface RelayStatus {
  peerId: string;
  cursor: number;
  paused: boolean;
  circuit: CircuitState;
  totals: RelayTotals;
  lastBatchAt: number | null;
  settings: RelaySettings;
}

/** Wakes the actor now (the API sends it after each commit; polling covers a lost one). */
export const nudgeSignal = defineSignal('nudge');
/** New settings from a restarted worker's config. */
export const configureSignal = defineSignal<[RelaySettings]>('configure');
/** Stops (true) or resumes (false) relaying to this peer; the cursor keeps its place. */
export const pauseSignal = defineSignal<[boolean]>('pause');
export const statusQuery = defineQuery<RelayStatus>('status');

/** Durable state of one peer's relay: cursor, circuit breaker, counters. Plain JSON. */
export class RelayState {
  cursor: number;
  circuit: CircuitState;
  paused: boolean;
  totals: RelayTotals;
  settings: RelaySettings;
  lastBatchAt: number | null = null;

  constructor(readonly input: RelayInput) {
    this.cursor = input.cursor ?? 0;
    this.circuit = input.circuit ?? closedCircuit();
    this.paused = input.paused ?? false;
    this.totals = input.totals ?? { relayed: 0, deadLettered: 0, batches: 0 };
    this.settings = input.settings;
  }

  status(now: number): RelayStatus {
    return {
      peerId: this.input.peerId,
      cursor: this.cursor,
      paused: this.paused,
      circuit: tick(this.circuit, now, this.settings.circuit),
      totals: this.totals,
      lastBatchAt: this.lastBatchAt,
      settings: this.settings,
    };
  }

  /** Delay before the next attempt after a failure while the circuit is still closed. */
  backoffMs(): number {
    const n = Math.max(0, this.circuit.consecutiveFailures - 1);
    return Math.min(this.settings.backoffBaseMs * 2 ** n, this.settings.backoffMaxMs);
  }

  carry(): RelayInput {
    return {
      peerId: this.input.peerId,
      settings: this.settings,
      cursor: this.cursor,
      circuit: this.circuit,
      paused: this.paused,
      totals: this.totals,
    };
  }
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * PeerRelay: one per peer (`relay:{peerId}`), forever. Drains the log after its cursor batch by batch,
 * sleeps until nudged (or the poll interval), and keeps its circuit breaker durably: five failures
 * open it, a durable timer half-opens it, three successes close it. Replaces the seeds' outbox
 * processor, BullMQ relay queue and in-memory circuit breaker.
 */
export async function peerRelayWorkflow(input: RelayInput): Promise<never> {
  const state = new RelayState(input);
  let nudged = true;
  setHandler(statusQuery, () => state.status(Date.now()));
  setHandler(nudgeSignal, () => {
    nudged = true;
  });
  setHandler(configureSignal, (settings) => {
    state.settings = settings;
    nudged = true;
  });
  setHandler(pauseSignal, (paused) => {
    state.paused = paused;
    nudged = true;
    log.info(paused ? 'relay paused' : 'relay resumed', { peer: input.peerId });
  });

  for (;;) {
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof peerRelayWorkflow>(state.carry());
    }
    if (state.paused) {
      nudged = false;
      await condition(() => !state.paused || nudged);
      continue;
    }

    const circuit = state.settings.circuit;
    const wait = msUntilProbe(state.circuit, Date.now(), circuit);
    if (wait > 0) {
      // Sleep out the open period on a durable timer; a pause cuts it short.
      await condition(() => state.paused, wait);
      continue;
    }
    state.circuit = tick(state.circuit, Date.now(), circuit);

    try {
      if (state.circuit.state === 'HALF_OPEN') {
        await peer(state.settings).probePeer({
          peerId: input.peerId,
          httpTimeoutMs: state.settings.httpTimeoutMs,
        });
        state.circuit = recordSuccess(state.circuit, Date.now(), circuit);
        logCircuit(state);
      }
      nudged = false;
      const r = await peer(state.settings).relayBatch({
        peerId: input.peerId,
        cursor: state.cursor,
        batchSize: state.settings.batchSize,
        httpTimeoutMs: state.settings.httpTimeoutMs,
      });
      state.cursor = r.cursor;
      if (r.read > 0) {
        state.totals = {
          relayed: state.totals.relayed + r.sent,
          deadLettered: state.totals.deadLettered + r.deadLettered,
          batches: state.totals.batches + 1,
        };
        state.lastBatchAt = Date.now();
      }
      if (r.contacted) {
        const before = state.circuit.state;
        state.circuit = recordSuccess(state.circuit, Date.now(), circuit);
        if (before !== state.circuit.state) logCircuit(state);
      }
      if (r.hasMore || state.circuit.state === 'HALF_OPEN') continue;
    } catch (err) {
      if (
        err instanceof ActivityFailure &&
        err.cause instanceof ApplicationFailure &&
        err.cause.nonRetryable
      ) {
        // Misconfiguration (peer no longer in PEERS): stop loudly rather than spin.
        throw err;
      }
      const before = state.circuit.state;
      state.circuit = recordFailure(state.circuit, failureMessage(err), Date.now(), circuit);
      if (before !== state.circuit.state) logCircuit(state);
      if (state.circuit.state === 'CLOSED') {
        await condition(() => state.paused, state.backoffMs());
      }
      continue;
    }
    await condition(() => nudged || state.paused, state.settings.pollIntervalMs);
  }
}

function logCircuit(state: RelayState): void {
  const c = state.circuit;
  log.warn(`circuit ${c.state}`, {
    peer: state.input.peerId,
    consecutiveFailures: c.consecutiveFailures,
    lastError: c.lastError,
  });
}
