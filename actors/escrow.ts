import type { Client } from '@temporalio/client';
import type { Config } from '../infra/config';
import type { StartGrant } from '../infra/escrow/escrow';
import { ApiError, AppError } from '../domain/errors';
import { escrowGrantStartOptions, escrowGrantWorkflow } from '../workflows/escrow-grant';

/**
 * Starts the EscrowGrant workflow of one quota (`escrow:{grantId}`, StoreId and DeviceId search
 * attributes). Without a Temporal client, or when Temporal refuses, a 503: the grant is not made.
 */
export async function startEscrowGrant(
  client: Client | undefined,
  config: Pick<Config, 'NODE_ID' | 'TEMPORAL_TASK_QUEUE'>,
  g: StartGrant,
): Promise<void> {
  if (!client) throw new AppError(503, ApiError.temporalUnavailable, 'this process has no Temporal client');
  const input = { ...g };
  try {
    await client.workflow.start(escrowGrantWorkflow, {
      ...escrowGrantStartOptions(input),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [input],
      memo: { node: config.NODE_ID },
    });
  } catch (err) {
    throw new AppError(
      503,
      ApiError.temporalUnavailable,
      `the escrow grant's workflow could not be started, nothing was granted: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
