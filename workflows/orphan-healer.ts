import { proxyActivities } from '@temporalio/workflow';
import type { Activities, OrphanHealInput, OrphanHealResult } from '../activities';
import { databaseBatch } from './profiles';

const { healOrphans } = proxyActivities<Activities>(databaseBatch);

/** Limits come from config through the schedule's action, so tests and operators can change them. */
export type OrphanHealerInput = OrphanHealInput;

/**
 * OrphanHealer: one healing pass per run. The `orphan-healer` Schedule starts it every
 * ORPHAN_HEALER_INTERVAL_SECONDS with overlap SKIP: at most one pass runs at a time, whatever the
 * number of worker processes (test/integration/orphan-healer-schedule.test.ts).
 */
export async function orphanHealerWorkflow(input: OrphanHealerInput): Promise<OrphanHealResult> {
  return healOrphans(input);
}
