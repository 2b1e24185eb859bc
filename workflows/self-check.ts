import { proxyActivities } from '@temporalio/workflow';
import type { Activities, SelfCheckResult } from '../activities';

const { selfCheckStores, selfCheckStore } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

export interface SelfCheckInput {
  /** One store (the admin route); every store when absent (the daily schedule). */
  storeId?: string;
}

export interface SelfCheckSummary {
  stores: number;
  differences: number;
  results: SelfCheckResult[];
}

/**
 * ProjectionSelfCheck: rebuilds each store's read models from its event log in a scratch schema and
 * compares them with the live tables (infra/projections/self-check.ts), one store at a time. Started
 * by the `{node}:projection-self-check` schedule (daily) or `POST /stores/{id}/self-check`.
 */
export async function projectionSelfCheckWorkflow(input: SelfCheckInput = {}): Promise<SelfCheckSummary> {
  const stores = input.storeId ? [input.storeId] : await selfCheckStores();
  const results: SelfCheckResult[] = [];
  for (const storeId of stores) {
    const r = await selfCheckStore(storeId);
    // Only what differs travels in the history: a clean store is one line.
    results.push(r.differences > 0 ? r : { ...r, tables: [] });
  }
  return { stores: stores.length, differences: results.reduce((n, r) => n + r.differences, 0), results };
}
