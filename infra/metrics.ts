import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's Prometheus metrics, on a registry of its own (one per app, so tests can build many). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'velox_process_' });
  return {
    registry,
    pushRequests: new Counter({
      name: 'velox_sync_push_requests_total',
      help: 'POST /sync/push requests by caller kind and HTTP status',
      labelNames: ['source', 'status'] as const,
      registers: [registry],
    }),
    pushEvents: new Counter({
      name: 'velox_sync_push_events_total',
      help: 'Pushed events by outcome (accepted, duplicate, rejected)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    pushDuration: new Histogram({
      name: 'velox_sync_push_duration_seconds',
      help: 'Time to validate, store and project one push request',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    projectionFailures: new Counter({
      name: 'velox_projection_failures_total',
      help: 'Events stored but not projected (kept with projection_status=failed for the orphan healer)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    hashMismatches: new Counter({
      name: 'velox_sync_hash_mismatches_total',
      help: 'Events refused with EVENT_ID_CONFLICT: a known event_id with a different payload',
      registers: [registry],
    }),
    erpIngestRecords: new Counter({
      name: 'velox_erp_ingest_records_total',
      help: 'ERP records pushed by agents, by kind (items, stock, warehouses) and outcome (processed, skipped, failed)',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    }),
    erpIngestDuration: new Histogram({
      name: 'velox_erp_ingest_duration_seconds',
      help: 'Time to validate, map and upsert one ERP ingest request',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    erpOrderJobs: new Counter({
      name: 'velox_erp_order_jobs_total',
      help: 'Order jobs created for ERP agents, and agent callbacks received by status',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    conflictsResolved: new Counter({
      name: 'velox_conflicts_resolved_total',
      help: 'Concurrent writes resolved automatically and written to conflict_audit_log',
      registers: [registry],
    }),
    ...erpWorkerMetrics(registry),
  };
}

// The ERP bridge's worker side: agent calls, breakers, deliveries and reconciles run in activities,
// so these count in the process that ran the activity (its /metrics, or the worker's own port).
// Vendors are few (one agent each), so a vendor label keeps the series bounded.
function erpWorkerMetrics(registry: Registry) {
  return {
    erpAgentCalls: new Counter({
      name: 'velox_erp_agent_calls_total',
      help: 'Calls to ERP agents by vendor, API type (orders, items, stock) and outcome (ok, unavailable, refused)',
      labelNames: ['vendor', 'api_type', 'outcome'] as const,
      registers: [registry],
    }),
    erpAgentCallDuration: new Histogram({
      name: 'velox_erp_agent_call_duration_seconds',
      help: 'Time from sending a call to an ERP agent to its answer (or failure), by vendor, API type and outcome',
      labelNames: ['vendor', 'api_type', 'outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    erpBreakerState: new Gauge({
      name: 'velox_erp_breaker_state',
      help: "A vendor API's circuit breaker as this process last saw it: 0 closed, 1 half-open, 2 open",
      labelNames: ['vendor', 'api_type'] as const,
      registers: [registry],
    }),
    erpBreakerTransitions: new Counter({
      name: 'velox_erp_breaker_transitions_total',
      help: 'Circuit breaker transitions made by this process, by vendor, API type and transition (open, half_open, close)',
      labelNames: ['vendor', 'api_type', 'transition'] as const,
      registers: [registry],
    }),
    erpBreakerRejections: new Counter({
      name: 'velox_erp_breaker_rejections_total',
      help: 'Agent calls not sent because the breaker was open, by vendor and API type',
      labelNames: ['vendor', 'api_type'] as const,
      registers: [registry],
    }),
    erpDeliveryAttempts: new Counter({
      name: 'velox_erp_order_delivery_attempts_total',
      help: 'Order delivery attempts by vendor and outcome (delivered, failed)',
      labelNames: ['vendor', 'outcome'] as const,
      registers: [registry],
    }),
    erpDeliveries: new Counter({
      name: 'velox_erp_order_deliveries_total',
      help: 'Order jobs finished by vendor and outcome (completed, dead_lettered)',
      labelNames: ['vendor', 'outcome'] as const,
      registers: [registry],
    }),
    erpDeliveryAttemptsPerJob: new Histogram({
      name: 'velox_erp_order_attempts_per_job',
      help: 'Attempts a finished order job took, by vendor and outcome',
      labelNames: ['vendor', 'outcome'] as const,
      buckets: [1, 2, 3, 4, 5, 10],
      registers: [registry],
    }),
    erpReconcileRuns: new Counter({
      name: 'velox_erp_reconcile_runs_total',
      help: 'VendorReconcile runs recorded, by vendor and result (in_sync, drift_resolved, drift_unresolved, failed)',
      labelNames: ['vendor', 'result'] as const,
      registers: [registry],
    }),
    erpReconcileDuration: new Histogram({
      name: 'velox_erp_reconcile_duration_seconds',
      help: 'Duration of a VendorReconcile run (all its continue-as-new runs), by vendor',
      labelNames: ['vendor'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    erpReconcileChecksumCalls: new Counter({
      name: 'velox_erp_reconcile_checksum_calls_total',
      help: 'Range checksums compared with the agent, by vendor, type (items, stock) and result (equal, differing)',
      labelNames: ['vendor', 'type', 'result'] as const,
      registers: [registry],
    }),
    erpReconcileDrift: new Counter({
      name: 'velox_erp_reconcile_drift_records_total',
      help: 'Drifted records found by reconciliation, by vendor, type and kind (missing_here, differing, extra_here, unresolved)',
      labelNames: ['vendor', 'type', 'kind'] as const,
      registers: [registry],
    }),
  };
}

/** What the ERP activities and the agent client count into. */
export type ErpWorkerMetrics = ReturnType<typeof erpWorkerMetrics>;

export type Metrics = ReturnType<typeof createMetrics>;
