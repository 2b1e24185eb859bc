import type { BucketTuple, DebtState } from '../wire/peer-protocol';

// Comparing a store's debts with a peer's (docs/health.md, "Debts between nodes"), pure: which
// buckets differ, then which debts. A debt's state is its total, remaining amount and payments, so
// "differs" means the two nodes would tell the customer different things.

export interface DebtDifference {
  debt_id: string;
  customer_id: string | null;
  /** The debt as this node has it (null: not here). */
  here: DebtState | null;
  /** The debt as the peer has it (null: not there). */
  there: DebtState | null;
}

/** Keys of the buckets whose count or digest differ, or that only one side has, in key order. */
export function differingBuckets(here: BucketTuple[], there: BucketTuple[]): string[] {
  const theirs = new Map(there.map(([key, count, digest]) => [key, `${count}:${digest}`]));
  const keys = new Set<string>();
  for (const [key, count, digest] of here) {
    if (theirs.get(key) !== `${count}:${digest}`) keys.add(key);
    theirs.delete(key);
  }
  for (const key of theirs.keys()) keys.add(key);
  return [...keys].sort();
}

/** The debts whose states differ, or that only one side has, by id. */
export function differingDebts(here: DebtState[], there: DebtState[]): DebtDifference[] {
  const theirs = new Map(there.map((d) => [d.debt_id, d]));
  const out: DebtDifference[] = [];
  for (const d of here) {
    const t = theirs.get(d.debt_id) ?? null;
    theirs.delete(d.debt_id);
    if (t?.digest === d.digest) continue;
    out.push({ debt_id: d.debt_id, customer_id: d.customer_id ?? t?.customer_id ?? null, here: d, there: t });
  }
  for (const t of theirs.values())
    out.push({ debt_id: t.debt_id, customer_id: t.customer_id, here: null, there: t });
  return out.sort((a, b) => (a.debt_id < b.debt_id ? -1 : a.debt_id > b.debt_id ? 1 : 0));
}

/** "debt D of customer C differs between nodes: …", naming both amounts and both nodes. */
export function describeDebtDifference(d: DebtDifference, nodeId: string, peerId: string): string {
  const of = `debt ${d.debt_id} of customer ${d.customer_id ?? '(none)'}`;
  const state = (s: DebtState) =>
    `remaining ${s.remaining_amount} of ${s.total_amount}, ${s.payments} payment${s.payments === 1 ? '' : 's'}`;
  if (d.here && d.there)
    return `${of} differs between nodes: ${state(d.here)} here (node ${nodeId}), ${state(d.there)} on node ${peerId}`;
  if (d.here) return `${of} is here (node ${nodeId}, ${state(d.here)}) but not on node ${peerId}`;
  return `${of} is on node ${peerId} (${state(d.there!)}) but not here (node ${nodeId})`;
}
