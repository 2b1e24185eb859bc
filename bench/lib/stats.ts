/** Latency summaries and the tables the benchmarks print. */

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summary(values: number[]): Summary {
  const s = [...values].sort((x, y) => x - y);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
  };
}

/** Whole milliseconds, '-' when not measured. */
export const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)}` : '-');

/**
 * A table: the first `left` columns left-aligned, the others right-aligned. `markdown` (default)
 * draws pipes and an alignment rule; `plain` separates columns with ' | ' and a dashed rule.
 */
export function table(
  head: string[],
  rows: string[][],
  { left = 1, style = 'markdown' }: { left?: number; style?: 'markdown' | 'plain' } = {},
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cells = (cs: string[]) =>
    cs.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)));
  if (style === 'plain') {
    const line = (cs: string[]) => cells(cs).join(' | ');
    return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
  }
  const line = (cs: string[]) => `| ${cells(cs).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i < left ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
