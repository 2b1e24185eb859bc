import type { Logger } from 'pino';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { createEscrowActivities } from './escrow';
import { createOrphanHealerActivities } from './orphan-healer';
import { createReconcileActivities } from './reconcile';
import { createRelayActivities } from './relay';

export type { OrphanHealInput, OrphanHealResult } from './orphan-healer';
export type { OversellPassResult, ReleaseInput, ReleaseOutcome } from './escrow';

/** What activities may close over. The worker builds this once from validated config. */
export interface ActivityDeps {
  db: Db;
  log: Logger;
  config: Config;
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
  };
}

export type Activities = ReturnType<typeof createActivities>;
