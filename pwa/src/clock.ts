import type { DeviceIdentity } from './db';

// The device's clocks (pwa/README.md): seq grows by one per event; the vector clock is {device: seq}
// merged with every clock pulled; created_at is a hybrid logical clock that never goes backwards,
// so a causally later write of this device always wins last-writer-wins on the node.

/** The next stamp for a new event, and the identity row advanced past it. */
export function nextStamp(
  identity: DeviceIdentity,
  nowMs: number,
): { seq: number; vector_clock: Record<string, number>; created_at: string; identity: DeviceIdentity } {
  const seq = identity.seq + 1;
  const timeMs = Math.max(nowMs, identity.last_time_ms + 1);
  const vector_clock = { ...identity.vector_clock, [identity.device_id]: seq };
  return {
    seq,
    vector_clock,
    created_at: new Date(timeMs).toISOString(),
    identity: { ...identity, seq, vector_clock, last_time_ms: timeMs },
  };
}

/** What a pulled event teaches the clocks: its vector clock (entry-wise max) and its time. */
export function observe(
  identity: DeviceIdentity,
  seen: { vector_clock: Record<string, number>; created_at: string },
): DeviceIdentity {
  const vector_clock = { ...identity.vector_clock };
  for (const [device, n] of Object.entries(seen.vector_clock)) {
    // Our own entry is ours to advance: a pulled echo never moves it past what we wrote.
    if (device === identity.device_id) continue;
    vector_clock[device] = Math.max(vector_clock[device] ?? 0, n);
  }
  const t = Date.parse(seen.created_at);
  return {
    ...identity,
    vector_clock,
    last_time_ms: Number.isFinite(t) ? Math.max(identity.last_time_ms, t) : identity.last_time_ms,
  };
}
