// Drift search by bisection (the seed's REQ-9): compare a key range's checksum with the agent's;
// equal ranges are done, small ones are compared record by record, others are split at the node's
// median key and both halves compared. One drifted record among n costs about 2·log2(n / leaf)
// checksum calls, not n record reads. Pure: VendorReconcile runs the plan, activities do the I/O.

/** A key range: `from` inclusive ('' = from the start), `to` exclusive (null = to the end). */
export interface KeyRange {
  from: string;
  to: string | null;
}

/**
 * Code-point order, which is the byte order of the UTF-8 encodings (PostgreSQL's COLLATE "C").
 * No Buffer: workflows import this module into their sandbox.
 */
export function compareKeys(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

export const inRange = (key: string, r: KeyRange): boolean =>
  compareKeys(key, r.from) >= 0 && (r.to === null || compareKeys(key, r.to) < 0);

export interface RangeComparison extends KeyRange {
  equal: boolean;
  localCount: number;
  erpCount: number;
  /** The node's median key in the range (null below two records): where the range splits. */
  splitKey: string | null;
}

export type RangeStep =
  { kind: 'equal' } | { kind: 'leaf'; range: KeyRange } | { kind: 'split'; halves: [KeyRange, KeyRange] };

export function nextStep(c: RangeComparison, leafSize: number): RangeStep {
  if (c.equal) return { kind: 'equal' };
  const range = { from: c.from, to: c.to };
  if (
    Math.max(c.localCount, c.erpCount) <= leafSize ||
    c.splitKey === null ||
    compareKeys(c.splitKey, c.from) <= 0
  ) {
    return { kind: 'leaf', range };
  }
  return {
    kind: 'split',
    halves: [
      { from: c.from, to: c.splitKey },
      { from: c.splitKey, to: c.to },
    ],
  };
}

/** The whole key space. */
export const FULL_RANGE: KeyRange = { from: '', to: null };

/**
 * A reconcile's summary lists at most this many unresolved records per type (the count is kept
 * whole): a leaf of thousands of unmapped records must not grow an activity result or a workflow's
 * state past Temporal's payload limits.
 */
export const UNRESOLVED_LIST_MAX = 100;
