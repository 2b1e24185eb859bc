import type { Logger } from 'pino';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import type { ExhaustedRange } from '../infra/projections';
import type { Metrics } from '../infra/metrics';
import { createEscrowActivities } from './escrow';
import type { FederationHealthReport } from '../domain/health/report';
import { createHealthActivities } from './health';
import { createFiscalActivities } from './fiscal';
import { createOrphanHealerActivities } from './orphan-healer';
import { createReconcileActivities } from './reconcile';
import { createRelayActivities } from './relay';
import { createSelfCheckActivities } from './self-check';

export type { OrphanHealInput, OrphanHealResult } from './orphan-healer';
export type { OversellPassResult, ReleaseInput, ReleaseOutcome } from './escrow';
export type { SelfCheckResult } from './self-check';
export type { RetentionDays } from './health';
import { createErpActivities } from './erp';

export type { ErpMaintenanceTask, RangeRepair } from './erp';

/** What activities may close over. The worker builds this once from validated config. */
export interface ActivityDeps {
  db: Db;
  log: Logger;
  config: Config;
  /** The process's registry: shared with the API's /metrics in one process, else the worker's port. */
  metrics: Metrics;
  /** Builds a store's health report (actors/health.ts, handed in by the composition root). */
  healthReport?: (storeId: string) => Promise<FederationHealthReport>;
  /**
   * Signals the FiscalRange workflows of ranges whose last number a sale used, for sales that enter
   * by reconcile or are projected by the orphan healer (actors/fiscal.ts, handed in by the root).
   */
  onFiscalExhausted?: (ranges: ExhaustedRange[]) => void;
}

/**
 * Every activity the worker registers, by name. Workflows see only the type (`import type`), so the
 * names here are the contract between a workflow's proxy and the worker.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOrphanHealerActivities(deps),
    ...createRelayActivities(deps),
    ...createReconcileActivities(deps),
    ...createEscrowActivities(deps),
    ...createHealthActivities(deps),
    ...createSelfCheckActivities(deps),
    ...createFiscalActivities(deps),
    ...createErpActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
