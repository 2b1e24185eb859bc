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

export function mergeClocks(a: VectorClock, b: VectorClock): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}
