import uPlot from 'uplot';
import type { HistorySnapshot } from './node-api';

// The store's last 24 hours as one uPlot chart: the overall level (0 healthy, 1 degraded,
// 2 critical) on its own axis, stepped, and the counts an operator watches on the other.

const LEVEL = { healthy: 0, degraded: 1, critical: 2 } as const;
const LEVEL_NAMES = ['healthy', 'degraded', 'critical'];
const COUNTS = [
  { key: 'eventLagCount', label: 'not yet relayed', stroke: '#457b9d' },
  { key: 'projectionGapCount', label: 'projection gaps', stroke: '#8e44ad' },
  { key: 'stockDivergenceCount', label: 'stock divergence', stroke: '#e9a23b' },
  { key: 'negativeStockCount', label: 'negative stock', stroke: '#c0392b' },
  { key: 'failedJobs', label: 'failed workflows', stroke: '#555' },
] as const;

export const HISTORY_HOURS = 24;

/** The chart's columns: time (s), level, then one column per count (null where a snapshot lacks it). */
export function chartData(snapshots: HistorySnapshot[]): uPlot.AlignedData {
  const metrics = snapshots.map((s) => (s.report?.metrics ?? {}) as Record<string, unknown>);
  return [
    snapshots.map((s) => Date.parse(s.taken_at) / 1000),
    snapshots.map((s) => LEVEL[s.overall]),
    ...COUNTS.map((c) =>
      metrics.map((m) => {
        const v = m[c.key];
        return typeof v === 'number' ? v : null;
      }),
    ),
  ];
}

let current: uPlot | null = null;

/** Draws (or redraws) the chart into `el`; returns false when there is nothing to draw. */
export function renderChart(el: HTMLElement, snapshots: HistorySnapshot[], now = Date.now()): boolean {
  current?.destroy();
  current = null;
  if (snapshots.length === 0) return false;
  const end = now / 1000;
  const opts: uPlot.Options = {
    width: Math.max(320, el.clientWidth || 800),
    height: 260,
    scales: {
      x: { time: true, range: () => [end - HISTORY_HOURS * 3600, end] },
      level: { range: [0, 2.2] },
      count: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] },
    },
    series: [
      {},
      {
        label: 'overall',
        scale: 'level',
        stroke: '#1d3557',
        width: 2,
        paths: uPlot.paths.stepped!({ align: 1 }),
        value: (_u, v) => (v === null ? '—' : (LEVEL_NAMES[v] ?? String(v))),
      },
      ...COUNTS.map((c) => ({ label: c.label, scale: 'count', stroke: c.stroke, width: 1.5 })),
    ],
    axes: [
      {},
      {
        scale: 'level',
        splits: () => [0, 1, 2],
        values: (_u, splits) => splits.map((v) => LEVEL_NAMES[v] ?? ''),
        size: 80,
      },
      { scale: 'count', side: 1, grid: { show: false } },
    ],
  };
  current = new uPlot(opts, chartData(snapshots), el);
  return true;
}

/** Keeps the chart as wide as its box when the window changes. */
export function resizeChart(el: HTMLElement): void {
  current?.setSize({ width: Math.max(320, el.clientWidth), height: 260 });
}
