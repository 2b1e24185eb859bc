// The series ledger (docs/fiscal.md): for every number of a window, exactly one state. A function of
// the projected rows only (no clock), so two nodes with the same events answer the same ledger.

export type LedgerState = 'issued' | 'voided' | 'burned' | 'reserved' | 'duplicate';
export const LEDGER_STATES: readonly LedgerState[] = ['issued', 'voided', 'burned', 'reserved', 'duplicate'];

export interface LedgerUse {
  fiscal_number: number;
  sale_id: string;
  device_id: string;
  voided: boolean;
  out_of_range: boolean;
}

export interface LedgerRange {
  range_id: string;
  device_id: string;
  node_id: string | null;
  range_start: number;
  range_end: number;
  status: 'active' | 'exhausted' | 'expired';
}

export interface LedgerBlock {
  block_id: string;
  node_id: string;
  block_start: number;
  block_end: number;
}

export interface LedgerEntry {
  number: number;
  state: LedgerState;
  /** The sales that used the number (one, or several for a duplicate). */
  sales: { sale_id: string; device_id: string; voided: boolean; out_of_range: boolean }[];
  range_id: string | null;
  device_id: string | null;
  /** The node holding the number (its block), when no sale used it. */
  node_id: string | null;
}

/** Finds the interval holding n in intervals sorted by start (they do not overlap). */
function holder<T>(
  sorted: readonly T[],
  n: number,
  start: (t: T) => number,
  end: (t: T) => number,
): T | null {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = sorted[mid]!;
    if (n < start(t)) hi = mid - 1;
    else if (n > end(t)) lo = mid + 1;
    else return t;
  }
  return null;
}

/**
 * A number used by one sale is `issued` (or `voided` if its sale is voided); by two or more, a
 * `duplicate`. An unused number in an active range is `reserved`; in an ended range (expired, or
 * exhausted with numbers skipped), `burned`: a permitted gap. An unused number in a block no device
 * range covers yet is `reserved` (held by the block's node); one in no block at all (below a sale
 * that used a number nobody granted) is `burned`.
 */
export function buildLedger(
  from: number,
  to: number,
  uses: readonly LedgerUse[],
  ranges: readonly LedgerRange[],
  blocks: readonly LedgerBlock[],
): { entries: LedgerEntry[]; totals: Record<LedgerState, number> } {
  const byNumber = new Map<number, LedgerUse[]>();
  for (const u of uses) {
    const list = byNumber.get(u.fiscal_number) ?? [];
    list.push(u);
    byNumber.set(u.fiscal_number, list);
  }
  const sortedRanges = [...ranges].sort((a, b) => a.range_start - b.range_start);
  const sortedBlocks = [...blocks].sort((a, b) => a.block_start - b.block_start);
  const totals = Object.fromEntries(LEDGER_STATES.map((s) => [s, 0])) as Record<LedgerState, number>;
  const entries: LedgerEntry[] = [];
  for (let n = from; n <= to; n++) {
    const used = [...(byNumber.get(n) ?? [])].sort((a, b) => (a.sale_id < b.sale_id ? -1 : 1));
    const range = holder(
      sortedRanges,
      n,
      (r) => r.range_start,
      (r) => r.range_end,
    );
    let state: LedgerState;
    let nodeId: string | null = range?.node_id ?? null;
    if (used.length > 1) state = 'duplicate';
    else if (used.length === 1) state = used[0]!.voided ? 'voided' : 'issued';
    else if (range) state = range.status === 'active' ? 'reserved' : 'burned';
    else {
      const block = holder(
        sortedBlocks,
        n,
        (b) => b.block_start,
        (b) => b.block_end,
      );
      nodeId = block?.node_id ?? null;
      state = block ? 'reserved' : 'burned';
    }
    totals[state] += 1;
    entries.push({
      number: n,
      state,
      sales: used.map((u) => ({
        sale_id: u.sale_id,
        device_id: u.device_id,
        voided: u.voided,
        out_of_range: u.out_of_range,
      })),
      range_id: range?.range_id ?? null,
      device_id: range?.device_id ?? null,
      node_id: nodeId,
    });
  }
  return { entries, totals };
}
