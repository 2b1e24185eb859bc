import type { Assessment, OverallHealth } from './thresholds';

// The shape of a store's federation health report (docs/health.md): the compact `metrics` block of
// the seeds' health endpoint, the detailed sections, and the findings in business terms. Built by
// actors/health.ts; saved per monitor tick; read by the dashboard.

export interface PeerProbe {
  reachable: boolean;
  latencyMs: number | null;
  /** Why it is unreachable, or what a reachable but unhealthy peer answered. */
  error: string | null;
}

export interface Finding {
  level: 'warning' | 'critical';
  metric: string;
  /** What it means for the shop, with the ids an operator needs. */
  message: string;
  ids: Record<string, string | number | string[]>;
  runbook: string;
}

export interface PeerHealth {
  peer_id: string;
  reachable: boolean;
  latency_ms: number | null;
  circuit_state: string;
  /** Events of this store not yet on that peer, and the oldest one's age. */
  lag_events: number | null;
  oldest_minutes: number | null;
  dead_letters: number;
  error: string | null;
  /** When the current run of failed probes began (carried from snapshot to snapshot by the monitor). */
  unreachable_since?: string | null;
}

export interface FederationHealthReport {
  timestamp: string;
  storeId: string;
  overallHealth: OverallHealth;
  metrics: {
    eventLagCount: number;
    projectionGapCount: number;
    stockDivergenceCount: number;
    negativeStockCount: number;
    queueDepth: number;
    failedJobs: number;
    remoteReachable: boolean;
    remoteLatencyMs: number | null;
    circuitBreakerState: string;
  };
  levels: Assessment['levels'];
  breaches: Assessment['breaches'];
  federation: {
    enabled: boolean;
    remoteReachable: boolean;
    latencyMs: number | null;
    queueDepth: number;
    failedJobs: number;
    circuitBreakerState: string;
    peers: PeerHealth[];
  };
  consistency: {
    eventLag: { count: number; oldestMinutes: number | null };
    projectionGaps: {
      sales: number;
      debts: number;
      debtPayments: number;
      sessions: number;
      unprojected: number;
      /** Of those, events of types the row probes do not cover: counted in projectionGapCount. */
      unprojectedOther: number;
    };
    stockDivergence: { divergent: number; negative: number };
    /**
     * Debts whose state (total, remaining, payments) differs from a peer's, summed over peers; per
     * peer null when it could not be compared, and the differing buckets left for a later report.
     */
    debtDivergence: {
      differing: number;
      peers: { peer_id: string; differing: number | null; bucketsLeftOut: number }[];
    };
    outbox: { pending: number; dead: number; avgProcessingMs: null; note: string };
    /** The latest projection self-check (null: never run). */
    selfCheck: { checked_at: string; events: number; differences: number } | null;
  };
  conflicts: { lastHour: number; last24h: number; unresolved: number; byStrategy: Record<string, number> };
  fiscal: { activeRanges: number; exhaustedRanges: number; expiredRanges: number; duplicateNumbers: number };
  /** Business terms: what the numbers mean for the shop, worst first. */
  findings: Finding[];
  /** Parts that could not be measured (a worker down, Temporal unreachable): never silently zero. */
  unmeasured: string[];
}
