import { defineQuery, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import type { Activities, ReleaseOutcome } from '../activities';
import { escrowGrantWorkflowId } from './ids';
import { databaseBatch } from './profiles';
import { DeviceIdKey, StoreIdKey } from './search-keys';

const { releaseEscrowGrant } = proxyActivities<Activities>(databaseBatch);

export interface EscrowGrantInput {
  storeId: string;
  deviceId: string;
  grantId: string;
  productId: string;
  /** How long the quota lives: its expires_at minus the grant's time (an input, so tests use seconds). */
  ttlMs: number;
}

export interface EscrowGrantState {
  phase: 'held' | 'released';
  expiresInMs: number | null;
  outcome: ReleaseOutcome | null;
}

/** Where the grant is (readable in the Temporal UI). */
export const escrowStateQuery = defineQuery<EscrowGrantState>('state');

/** Start options: the id is the grant's, searchable by store and device. */
export function escrowGrantStartOptions(input: EscrowGrantInput) {
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: StoreIdKey, value: input.storeId },
    { key: DeviceIdKey, value: input.deviceId },
  ];
  return { workflowId: escrowGrantWorkflowId(input.grantId), typedSearchAttributes };
}

/**
 * EscrowGrant: one per quota. Sleeps (a durable timer) until the quota expires, then gives its
 * unconsumed rest back to the node's rights (EscrowReleased). Replaces the seeds' reclaim cron.
 */
export async function escrowGrantWorkflow(input: EscrowGrantInput): Promise<ReleaseOutcome> {
  const started = Date.now();
  let outcome: ReleaseOutcome | null = null;
  setHandler(escrowStateQuery, () => ({
    phase: outcome ? 'released' : 'held',
    expiresInMs: outcome ? null : Math.max(0, started + input.ttlMs - Date.now()),
    outcome,
  }));
  await sleep(input.ttlMs);
  outcome = await releaseEscrowGrant({ storeId: input.storeId, grantId: input.grantId });
  return outcome;
}
