import {
  closedCircuit,
  msUntilProbe,
  recordFailure,
  recordSuccess,
  tick,
  type CircuitOptions,
  type CircuitState,
} from './circuit';

/**
 * The PeerRelay actor: every decision of one peer's relay (which batch next, when to back off, the
 * circuit breaker's transitions, pause, configure, the counters) as a plain class with no Temporal
 * in it, so each transition is unit-tested (test/unit/domain/relay/peer-relay.test.ts). The workflow
 * (workflows/relay.ts) registers its messages, asks `next()` what to do, does it (an activity or a
 * durable wait) and reports the outcome back. Its state is plain JSON, carried across
 * continue-as-new by `carry()`.
 */

export interface RelaySettings {
  batchSize: number;
  pollIntervalMs: number;
  httpTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  circuit: CircuitOptions;
}

/** A change of some settings (the admin's configure); what it leaves out stays as it is. */
export interface RelaySettingsPatch {
  batchSize?: number;
  pollIntervalMs?: number;
  httpTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  circuit?: Partial<CircuitOptions>;
}

export interface RelayTotals {
  relayed: number;
  deadLettered: number;
  batches: number;
}

export interface RelayInput {
  peerId: string;
  settings: RelaySettings;
  /** Carried across continue-as-new; a fresh actor starts at 0 (the beginning of the log). */
  cursor?: number;
  circuit?: CircuitState;
  paused?: boolean;
  totals?: RelayTotals;
  /**
   * Test knob: continue-as-new after this many steps of a run, as if Temporal suggested it, so tests
   * reach that path and record a history across it. Carried, so every run does the same.
   */
  continueAsNewAfter?: number;
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

/** What one relayBatch activity did (activities/relay.ts returns a superset). */
export interface BatchOutcome {
  cursor: number;
  read: number;
  sent: number;
  deadLettered: number;
  contacted: boolean;
  hasMore: boolean;
}

/** What the workflow does next. */
export type RelayStep =
  | { kind: 'continue-as-new' }
  /** Paused: wait for `woken()` (a resume, or a nudge that lets the loop look again). */
  | { kind: 'paused' }
  /** The circuit is OPEN: sleep `ms` on a durable timer, cut short by a pause. */
  | { kind: 'open'; ms: number }
  /** Push the next batch after `cursor`; probe the peer first when the circuit is HALF_OPEN. */
  | { kind: 'send'; probeFirst: boolean; cursor: number };

/** After a batch or a failure: go again at once, or wait `ms` (cut short by a nudge or a pause, as `until` says). */
export type RelayPause = { kind: 'again' } | { kind: 'wait'; ms: number; until: 'nudge' | 'pause' };

/** Answer to pause and resume (idempotent: `changed` says whether it was already so). */
export interface PauseAnswer {
  paused: boolean;
  changed: boolean;
  cursor: number;
}

/** How the actor tells of what deserves a line in the log (the workflow passes Temporal's logger). */
export interface RelayLog {
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
}

const silent: RelayLog = { info: () => undefined, warn: () => undefined };

/** Limits of a setting an admin may give (the config's defaults sit well inside them). */
const LIMITS = {
  batchSize: [1, 10_000],
  pollIntervalMs: [10, 3_600_000],
  httpTimeoutMs: [100, 600_000],
  backoffBaseMs: [1, 3_600_000],
  backoffMaxMs: [1, 3_600_000],
  failureThreshold: [1, 1000],
  successThreshold: [1, 1000],
  openMs: [10, 86_400_000],
} as const;

const TOP = ['batchSize', 'pollIntervalMs', 'httpTimeoutMs', 'backoffBaseMs', 'backoffMaxMs'] as const;
const CIRCUIT = ['failureThreshold', 'successThreshold', 'openMs'] as const;

/**
 * Why a change of settings cannot be taken, or [] (the configure update's validator: a refused
 * change is never written to the history). Only what the change names is judged, so a value the
 * config set outside these limits does not block an unrelated change.
 */
export function patchProblems(current: RelaySettings, patch: RelaySettingsPatch): string[] {
  if (typeof patch !== 'object' || patch === null) return ['the change must be an object of settings'];
  const problems: string[] = [];
  const check = (name: keyof typeof LIMITS, value: unknown) => {
    if (value === undefined) return;
    const [min, max] = LIMITS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`);
    }
  };
  for (const name of TOP) check(name, patch[name]);
  for (const name of CIRCUIT) check(name, patch.circuit?.[name]);
  const next = applyPatch(current, patch);
  const backoffNamed = patch.backoffBaseMs !== undefined || patch.backoffMaxMs !== undefined;
  if (problems.length === 0 && backoffNamed && next.backoffMaxMs < next.backoffBaseMs) {
    problems.push(
      `backoffMaxMs (${next.backoffMaxMs}) must not be below backoffBaseMs (${next.backoffBaseMs})`,
    );
  }
  return problems;
}

/** Settings with a change applied; a name left out or undefined keeps its value, unknown names are ignored. */
export function applyPatch(s: RelaySettings, patch: RelaySettingsPatch): RelaySettings {
  const next: RelaySettings = { ...s, circuit: { ...s.circuit } };
  for (const name of TOP) if (patch[name] !== undefined) next[name] = patch[name];
  for (const name of CIRCUIT) {
    const value = patch.circuit?.[name];
    if (value !== undefined) next.circuit[name] = value;
  }
  return next;
}

/** Settings refused by the configure validator. */
export class InvalidRelaySettings extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid relay settings: ${problems.join('; ')}`);
    this.name = 'InvalidRelaySettings';
  }
}

export class PeerRelay {
  private cursor: number;
  private circuit: CircuitState;
  private paused: boolean;
  private totals: RelayTotals;
  private settings: RelaySettings;
  private lastBatchAt: number | null = null;
  /** A nudge (or a change) arrived since the last batch was started. */
  private nudged = true;
  /** A relayBatch (or its probe) is under way. */
  private sending = false;
  private steps = 0;

  constructor(
    private readonly input: RelayInput,
    private readonly log: RelayLog = silent,
  ) {
    this.cursor = input.cursor ?? 0;
    this.circuit = input.circuit ?? closedCircuit();
    this.paused = input.paused ?? false;
    this.totals = input.totals ?? { relayed: 0, deadLettered: 0, batches: 0 };
    this.settings = input.settings;
  }

  get peerId(): string {
    return this.input.peerId;
  }

  get currentSettings(): RelaySettings {
    return this.settings;
  }

  // --- messages -------------------------------------------------------------------------------

  /** Wakes the actor now (the API sends it after each commit; polling covers a lost one). */
  nudge(): void {
    this.nudged = true;
  }

  /** Stops (true) or resumes (false) relaying; the cursor keeps its place. Idempotent. */
  setPaused(paused: boolean): PauseAnswer {
    const changed = this.paused !== paused;
    this.paused = paused;
    this.nudged = true;
    if (changed) this.log.info(paused ? 'relay paused' : 'relay resumed', { peer: this.peerId });
    return { paused, changed, cursor: this.cursor };
  }

  /** Whether a pause has taken hold: no batch is under way, and none starts until resumed. */
  settled(): boolean {
    return !this.sending;
  }

  /** The answer once a pause or resume has taken hold (the cursor may have moved meanwhile). */
  pauseAnswer(changed: boolean): PauseAnswer {
    return { paused: this.paused, changed, cursor: this.cursor };
  }

  /** Throws InvalidRelaySettings unless the patch, applied to the current settings, is valid. */
  validateConfigure(patch: RelaySettingsPatch): void {
    const problems = patchProblems(this.settings, patch);
    if (problems.length > 0) throw new InvalidRelaySettings(problems);
  }

  /** Takes new settings (a worker's config at start, or an admin's change) and looks again at once. */
  configure(patch: RelaySettingsPatch): RelaySettings {
    this.settings = applyPatch(this.settings, patch);
    this.nudged = true;
    return this.settings;
  }

  status(now: number): RelayStatus {
    return {
      peerId: this.peerId,
      cursor: this.cursor,
      paused: this.paused,
      circuit: tick(this.circuit, now, this.settings.circuit),
      totals: this.totals,
      lastBatchAt: this.lastBatchAt,
      settings: this.settings,
    };
  }

  // --- the loop -------------------------------------------------------------------------------

  /** What to do now. `suggested`: Temporal's continueAsNewSuggested. */
  next(now: number, suggested: boolean): RelayStep {
    this.steps += 1;
    const knob = this.input.continueAsNewAfter;
    if (suggested || (knob !== undefined && this.steps > knob)) return { kind: 'continue-as-new' };
    if (this.paused) {
      this.nudged = false;
      return { kind: 'paused' };
    }
    const wait = msUntilProbe(this.circuit, now, this.settings.circuit);
    if (wait > 0) return { kind: 'open', ms: wait };
    this.circuit = tick(this.circuit, now, this.settings.circuit);
    this.sending = true;
    return {
      kind: 'send',
      probeFirst: this.circuit.state === 'HALF_OPEN',
      cursor: this.cursor,
    };
  }

  /** While paused: whether to look again (resumed, or nudged). */
  woken(): boolean {
    return !this.paused || this.nudged;
  }

  /** Whether a wait of kind `until` is cut short. */
  interrupted(until: 'nudge' | 'pause'): boolean {
    return until === 'nudge' ? this.nudged || this.paused : this.paused;
  }

  /** The half-open circuit's probe answered. */
  probed(now: number): void {
    this.circuit = recordSuccess(this.circuit, now, this.settings.circuit);
    this.logCircuit();
  }

  /** The batch is about to be read: nudges from here on are for events it may not see. */
  batchStarting(): void {
    this.nudged = false;
  }

  /** A batch went through (or there was nothing to send). */
  batchDone(r: BatchOutcome, now: number): RelayPause {
    this.sending = false;
    this.cursor = r.cursor;
    if (r.read > 0) {
      this.totals = {
        relayed: this.totals.relayed + r.sent,
        deadLettered: this.totals.deadLettered + r.deadLettered,
        batches: this.totals.batches + 1,
      };
      this.lastBatchAt = now;
    }
    if (r.contacted) {
      const before = this.circuit.state;
      this.circuit = recordSuccess(this.circuit, now, this.settings.circuit);
      if (before !== this.circuit.state) this.logCircuit();
    }
    // More to send, or a half-open circuit that needs further successes to close: go on at once.
    if (r.hasMore || this.circuit.state === 'HALF_OPEN') return { kind: 'again' };
    return { kind: 'wait', ms: this.settings.pollIntervalMs, until: 'nudge' };
  }

  /** The probe or the batch failed (peer unavailable); the cursor stays where it was. */
  failed(error: string, now: number): RelayPause {
    this.sending = false;
    const before = this.circuit.state;
    this.circuit = recordFailure(this.circuit, error, now, this.settings.circuit);
    if (before !== this.circuit.state) this.logCircuit();
    // Still closed: back off before the next try. Opened: the next step sleeps out the open period.
    if (this.circuit.state === 'CLOSED') return { kind: 'wait', ms: this.backoffMs(), until: 'pause' };
    return { kind: 'again' };
  }

  /** Delay before the next attempt after a failure while the circuit is still closed. */
  backoffMs(): number {
    const n = Math.max(0, this.circuit.consecutiveFailures - 1);
    return Math.min(this.settings.backoffBaseMs * 2 ** n, this.settings.backoffMaxMs);
  }

  /** The state the next run starts from. */
  carry(): RelayInput {
    return {
      peerId: this.peerId,
      settings: this.settings,
      cursor: this.cursor,
      circuit: this.circuit,
      paused: this.paused,
      totals: this.totals,
      ...(this.input.continueAsNewAfter === undefined
        ? {}
        : { continueAsNewAfter: this.input.continueAsNewAfter }),
    };
  }

  private logCircuit(): void {
    const c = this.circuit;
    this.log.warn(`circuit ${c.state}`, {
      peer: this.peerId,
      consecutiveFailures: c.consecutiveFailures,
      lastError: c.lastError,
    });
  }
}
