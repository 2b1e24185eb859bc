/**
 * Last-writer-wins registers, one per field. A write's stamp orders it totally:
 * (hybrid-logical timestamp, origin node, device, event id). The device's created_at is its hybrid
 * logical clock (the PWA never lets it go backwards), so a causally later write also sorts later;
 * ties between concurrent writes break the same way on every node.
 */
export interface StampSource {
  event_id: string;
  device_id: string;
  origin_node: string;
  created_at: Date;
}

export function stampOf(e: StampSource): string {
  return `${e.created_at.toISOString()}|${e.origin_node}|${e.device_id}|${e.event_id.toLowerCase()}`;
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
