import {
  InvalidRelaySettings,
  PeerRelay,
  patchProblems,
  type BatchOutcome,
  type RelayInput,
  type RelaySettings,
  type RelaySettingsPatch,
} from '../../../../domain/relay/peer-relay';

const settings: RelaySettings = {
  batchSize: 100,
  pollIntervalMs: 5000,
  httpTimeoutMs: 1000,
  backoffBaseMs: 100,
  backoffMaxMs: 800,
  circuit: { failureThreshold: 3, successThreshold: 2, openMs: 60_000 },
};

const relayOf = (extra: Partial<RelayInput> = {}) => new PeerRelay({ peerId: 'b', settings, ...extra });

const outcome = (o: Partial<BatchOutcome> = {}): BatchOutcome => ({
  cursor: 0,
  read: 0,
  sent: 0,
  deadLettered: 0,
  contacted: false,
  hasMore: false,
  ...o,
});

/** Runs one send step that fails. */
function failOnce(relay: PeerRelay, now: number) {
  const step = relay.next(now, false);
  expect(step.kind).toBe('send');
  return relay.failed('peer unreachable', now);
}

describe('PeerRelay: batches and the cursor', () => {
  test('a fresh relay sends from the beginning of the log', () => {
    expect(relayOf().next(0, false)).toEqual({ kind: 'send', probeFirst: false, cursor: 0 });
  });

  test('a carried cursor is where the next batch starts', () => {
    expect(relayOf({ cursor: 42 }).next(0, false)).toMatchObject({ kind: 'send', cursor: 42 });
  });

  test('a full batch moves the cursor and goes again at once; the counters add up', () => {
    const relay = relayOf();
    relay.next(0, false);
    expect(
      relay.batchDone(outcome({ cursor: 100, read: 100, sent: 98, deadLettered: 1, hasMore: true }), 7),
    ).toEqual({ kind: 'again' });
    expect(relay.next(8, false)).toMatchObject({ kind: 'send', cursor: 100 });
    relay.batchDone(outcome({ cursor: 130, read: 30, sent: 30 }), 9);
    expect(relay.status(9)).toMatchObject({
      cursor: 130,
      totals: { relayed: 128, deadLettered: 1, batches: 2 },
      lastBatchAt: 9,
    });
  });

  test('a short batch waits for a nudge or the poll interval', () => {
    const relay = relayOf();
    relay.next(0, false);
    relay.batchStarting();
    const then = relay.batchDone(outcome({ cursor: 5, read: 5, sent: 5 }), 1);
    expect(then).toEqual({ kind: 'wait', ms: 5000, until: 'nudge' });
    expect(relay.interrupted('nudge')).toBe(false);
    relay.nudge();
    expect(relay.interrupted('nudge')).toBe(true);
  });

  test('a nudge that arrives while a batch is read is kept (the batch may not have seen its events)', () => {
    const relay = relayOf();
    relay.next(0, false);
    relay.batchStarting();
    relay.nudge();
    relay.batchDone(outcome({ cursor: 5, read: 5, sent: 5 }), 1);
    expect(relay.interrupted('nudge')).toBe(true);
  });

  test('an empty read counts no batch and leaves lastBatchAt alone', () => {
    const relay = relayOf({ cursor: 3 });
    relay.next(0, false);
    relay.batchDone(outcome({ cursor: 3 }), 1);
    expect(relay.status(1)).toMatchObject({ totals: { batches: 0, relayed: 0 }, lastBatchAt: null });
  });
});

describe('PeerRelay: failures, backoff and the circuit', () => {
  test('failures while CLOSED back off, doubling up to the maximum; the cursor stays', () => {
    const relay = relayOf({
      cursor: 9,
      settings: { ...settings, circuit: { ...settings.circuit, failureThreshold: 10 } },
    });
    const waits = [1, 2, 3, 4, 5].map((i) => failOnce(relay, i));
    expect(waits).toEqual([100, 200, 400, 800, 800].map((ms) => ({ kind: 'wait', ms, until: 'pause' })));
    expect(relay.status(6)).toMatchObject({
      cursor: 9,
      circuit: { state: 'CLOSED', lastError: 'peer unreachable' },
    });
  });

  test('the threshold of failures opens the circuit; it sleeps out the open period', () => {
    const relay = relayOf();
    failOnce(relay, 0);
    failOnce(relay, 0);
    expect(failOnce(relay, 1000)).toEqual({ kind: 'again' });
    expect(relay.status(1000).circuit).toMatchObject({
      state: 'OPEN',
      openedAt: 1000,
      consecutiveFailures: 3,
    });
    expect(relay.next(1000, false)).toEqual({ kind: 'open', ms: 60_000 });
    expect(relay.next(31_000, false)).toEqual({ kind: 'open', ms: 30_000 });
  });

  test('after the open period it probes first; successes while HALF_OPEN go on at once until it closes', () => {
    const relay = relayOf({
      cursor: 4,
      settings: { ...settings, circuit: { ...settings.circuit, successThreshold: 3 } },
    });
    for (let i = 0; i < 3; i++) failOnce(relay, 0);
    expect(relay.next(60_000, false)).toEqual({ kind: 'send', probeFirst: true, cursor: 4 });
    relay.probed(60_001);
    expect(relay.status(60_001).circuit).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 1 });
    // Nothing to send, but the circuit is still half-open: the next step comes at once, and probes.
    expect(relay.batchDone(outcome({ cursor: 4, contacted: true }), 60_002)).toEqual({ kind: 'again' });
    expect(relay.status(60_002).circuit).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 2 });
    expect(relay.next(60_003, false)).toEqual({ kind: 'send', probeFirst: true, cursor: 4 });
    relay.probed(60_003);
    expect(relay.status(60_003).circuit.state).toBe('CLOSED');
    expect(relay.batchDone(outcome({ cursor: 4, contacted: true }), 60_004)).toEqual({
      kind: 'wait',
      ms: 5000,
      until: 'nudge',
    });
    expect(relay.next(60_005, false)).toEqual({ kind: 'send', probeFirst: false, cursor: 4 });
  });

  test('a batch that never reached the peer (nothing to send) is no success for the circuit', () => {
    const relay = relayOf();
    for (let i = 0; i < 3; i++) failOnce(relay, 0);
    relay.next(60_000, false);
    relay.probed(60_000);
    expect(relay.batchDone(outcome({ contacted: false }), 60_001)).toEqual({ kind: 'again' });
    expect(relay.status(60_001).circuit).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 1 });
  });

  test('a failure while HALF_OPEN opens it again for a full period', () => {
    const relay = relayOf();
    for (let i = 0; i < 3; i++) failOnce(relay, 0);
    relay.next(60_000, false);
    expect(relay.failed('still down', 60_500)).toEqual({ kind: 'again' });
    expect(relay.next(60_500, false)).toEqual({ kind: 'open', ms: 60_000 });
  });

  test('a success while CLOSED clears the failure count', () => {
    const relay = relayOf();
    failOnce(relay, 0);
    failOnce(relay, 0);
    relay.next(1, false);
    relay.batchDone(outcome({ contacted: true }), 1);
    expect(relay.status(1).circuit.consecutiveFailures).toBe(0);
    expect(failOnce(relay, 2)).toEqual({ kind: 'wait', ms: 100, until: 'pause' });
  });

  test('circuit transitions are logged; plain batches are not', () => {
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const relay = new PeerRelay({ peerId: 'b', settings }, log);
    for (let i = 0; i < 3; i++) failOnce(relay, 0);
    relay.next(60_000, false);
    relay.probed(60_000);
    relay.batchDone(outcome({ contacted: true }), 60_001);
    relay.next(60_002, false);
    relay.batchDone(outcome({ contacted: true }), 60_002);
    expect(lines).toEqual(['circuit OPEN', 'circuit HALF_OPEN', 'circuit CLOSED']);
  });
});

describe('PeerRelay: pause and resume', () => {
  test('a paused relay sends nothing and waits for a resume (or a nudge to look again)', () => {
    const relay = relayOf();
    expect(relay.setPaused(true)).toEqual({ paused: true, changed: true, cursor: 0 });
    expect(relay.next(0, false)).toEqual({ kind: 'paused' });
    expect(relay.woken()).toBe(false);
    relay.nudge();
    expect(relay.woken()).toBe(true);
    expect(relay.next(1, false)).toEqual({ kind: 'paused' });
    expect(relay.woken()).toBe(false);
    relay.setPaused(false);
    expect(relay.woken()).toBe(true);
    expect(relay.next(2, false)).toMatchObject({ kind: 'send' });
  });

  test('pause and resume are idempotent: changed says whether it was already so', () => {
    const relay = relayOf({ cursor: 7 });
    expect(relay.setPaused(false)).toEqual({ paused: false, changed: false, cursor: 7 });
    expect(relay.setPaused(true).changed).toBe(true);
    expect(relay.setPaused(true)).toEqual({ paused: true, changed: false, cursor: 7 });
  });

  test('a pause takes hold once the batch under way is done, and answers the cursor it stopped at', () => {
    const relay = relayOf();
    expect(relay.settled()).toBe(true);
    relay.next(0, false);
    relay.batchStarting();
    const { changed } = relay.setPaused(true);
    expect(relay.settled()).toBe(false);
    relay.batchDone(outcome({ cursor: 50, read: 50, sent: 50, hasMore: true }), 1);
    expect(relay.settled()).toBe(true);
    expect(relay.pauseAnswer(changed)).toEqual({ paused: true, changed: true, cursor: 50 });
    expect(relay.next(2, false)).toEqual({ kind: 'paused' });
  });

  test('a failed batch settles a pause too', () => {
    const relay = relayOf();
    relay.next(0, false);
    relay.setPaused(true);
    relay.failed('boom', 1);
    expect(relay.settled()).toBe(true);
  });

  test('a pause cuts a backoff or an open-circuit sleep short', () => {
    const relay = relayOf();
    failOnce(relay, 0);
    expect(relay.interrupted('pause')).toBe(false);
    relay.setPaused(true);
    expect(relay.interrupted('pause')).toBe(true);
    expect(relay.interrupted('nudge')).toBe(true);
  });
});

describe('PeerRelay: configure', () => {
  test('a patch changes only what it names, and the next batch uses it', () => {
    const relay = relayOf();
    const next = relay.configure({ batchSize: 10, circuit: { openMs: 1000 } });
    expect(next).toEqual({ ...settings, batchSize: 10, circuit: { ...settings.circuit, openMs: 1000 } });
    expect(relay.currentSettings.batchSize).toBe(10);
    expect(relay.interrupted('nudge')).toBe(true);
  });

  test('names given as undefined keep their values', () => {
    const relay = relayOf();
    relay.configure({ batchSize: undefined, pollIntervalMs: 50, circuit: { openMs: undefined } });
    expect(relay.currentSettings).toEqual({ ...settings, pollIntervalMs: 50 });
  });

  test('the validator refuses settings that cannot work, judged with the current ones', () => {
    const relay = relayOf();
    expect(() => relay.validateConfigure({ batchSize: 0 })).toThrow(InvalidRelaySettings);
    expect(() => relay.validateConfigure({ backoffMaxMs: 50 })).toThrow(
      /backoffMaxMs \(50\).*backoffBaseMs \(100\)/,
    );
    expect(() => relay.validateConfigure({ circuit: { failureThreshold: 1.5 } })).toThrow(/failureThreshold/);
    expect(() => relay.validateConfigure({ pollIntervalMs: '5' as unknown as number })).toThrow(
      /pollIntervalMs/,
    );
    expect(() => relay.validateConfigure({ backoffMaxMs: 100, batchSize: 10 })).not.toThrow();
    expect(relay.currentSettings).toEqual(settings);
  });

  test('patchProblems lists every problem of a malformed change', () => {
    const bad = {
      batchSize: -1,
      pollIntervalMs: 0,
      httpTimeoutMs: 1e9,
      backoffBaseMs: 'x',
      backoffMaxMs: null,
      circuit: { failureThreshold: 0, successThreshold: 2.5, openMs: -5 },
    } as unknown as RelaySettingsPatch;
    expect(patchProblems(settings, bad)).toHaveLength(8);
    expect(patchProblems(settings, null as unknown as RelaySettingsPatch)).toHaveLength(1);
    expect(patchProblems(settings, {})).toEqual([]);
  });

  test('only what a change names is judged: a setting the config put out of range does not block others', () => {
    const relay = relayOf({ settings: { ...settings, pollIntervalMs: 1, backoffMaxMs: 10 } });
    expect(() => relay.validateConfigure({ batchSize: 20 })).not.toThrow();
    expect(() => relay.validateConfigure({ backoffBaseMs: 50 })).toThrow(/backoffMaxMs \(10\)/);
  });

  test('unknown names in a change are ignored', () => {
    const relay = relayOf();
    relay.configure({ batchSize: 9, bogus: 1, circuit: { nope: 2 } } as unknown as RelaySettingsPatch);
    expect(relay.currentSettings).toEqual({ ...settings, batchSize: 9 });
  });
});

describe('PeerRelay: continue-as-new', () => {
  test('when Temporal suggests it, the next step is continue-as-new', () => {
    expect(relayOf().next(0, true)).toEqual({ kind: 'continue-as-new' });
  });

  test('the test knob forces it after that many steps of a run', () => {
    const relay = relayOf({ continueAsNewAfter: 2 });
    expect(relay.next(0, false).kind).toBe('send');
    relay.batchDone(outcome(), 0);
    expect(relay.next(1, false).kind).toBe('send');
    relay.batchDone(outcome(), 1);
    expect(relay.next(2, false)).toEqual({ kind: 'continue-as-new' });
  });

  test('carry() holds everything the next run needs, the knob included', () => {
    const relay = relayOf({ continueAsNewAfter: 5 });
    relay.next(0, false);
    relay.batchDone(outcome({ cursor: 12, read: 12, sent: 12 }), 3);
    relay.setPaused(true);
    relay.configure({ batchSize: 7 });
    const carried = relay.carry();
    expect(carried).toEqual({
      peerId: 'b',
      settings: { ...settings, batchSize: 7 },
      cursor: 12,
      circuit: expect.objectContaining({ state: 'CLOSED', lastSuccessAt: null }),
      paused: true,
      totals: { relayed: 12, deadLettered: 0, batches: 1 },
      continueAsNewAfter: 5,
    });
    // Plain JSON: it survives the trip through the payload converter.
    const next = new PeerRelay(JSON.parse(JSON.stringify(carried)) as RelayInput);
    expect(next.status(3)).toEqual({ ...relay.status(3), lastBatchAt: null });
    expect(next.next(4, false)).toEqual({ kind: 'paused' });
  });

  test('without the knob, carry() adds none', () => {
    expect(relayOf().carry()).not.toHaveProperty('continueAsNewAfter');
  });
});
