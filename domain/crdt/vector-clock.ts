export type VectorClock = Readonly<Record<string, number>>;
export type Causality = 'equal' | 'before' | 'after' | 'concurrent';

/** How `a` relates to `b`: before = a happened-before b. Missing entries count as 0. */
export function compareClocks(a: VectorClock, b: VectorClock): Causality {
  let aBigger = false;
  let bBigger = false;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0;
    const y = b[key] ?? 0;
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
    if (aBigger && bBigger) return 'concurrent';
  }
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/**
 * A device's clock after it has seen another event: the entry-wise maximum. The node never merges
 * clocks (each event keeps the one its device gave it); devices do, and the device simulation in
 * test/unit/domain/crdt/hlc.test.ts uses this rule.
 */
export function mergeClocks(a: VectorClock, b: VectorClock): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}
