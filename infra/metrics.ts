import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
