/**
 * Last-writer-wins registers, one per field. A write's stamp orders it totally:
 * (hybrid-logical timestamp, origin node, device, event id). The timestamp is the event's `hlc`,
 * given where it entered the federation (domain/crdt/hlc.ts): after everything its vector clock has
 * seen, and never more than a bounded skew ahead of that node's clock. So a write that saw another
 * sorts after it whatever the device's clock said, a tablet set to 2099 cannot win forever, and
 * ties between concurrent writes break the same way on every node.
 */
export interface StampSource {
  event_id: string;
  device_id: string;
  origin_node: string;
  hlc: Date;
}

export function stampOf(e: StampSource): string {
  // Fixed width (years 0000-9999, which the event schema enforces), so text order is time order.
  return `${e.hlc.toISOString()}|${e.origin_node}|${e.device_id}|${e.event_id.toLowerCase()}`;
}

/** The event id a stamp belongs to (its last segment). */
export function stampEventId(stamp: string): string {
  return stamp.slice(stamp.lastIndexOf('|') + 1);
}

export interface LwwState {
  values: Record<string, unknown>;
  stamps: Record<string, string>;
}

export interface FieldOutcome {
  field: string;
  /** The stamp that held the field before this write, if any. */
  previous: string | undefined;
  won: boolean;
}

/**
 * Applies one write to the register set in place and reports, per field, whether it won and whom it
 * met. Commutative, associative and idempotent: any order of the same writes gives the same state.
 */
export function applyWrite(state: LwwState, fields: Record<string, unknown>, stamp: string): FieldOutcome[] {
  const outcomes: FieldOutcome[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const previous = state.stamps[field];
    const won = previous === undefined || stamp > previous;
    if (won) {
      state.values[field] = value;
      state.stamps[field] = stamp;
    }
    outcomes.push({ field, previous, won });
  }
  return outcomes;
}
