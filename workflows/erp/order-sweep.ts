import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { databaseBatch } from '../profiles';
import { erpOrderDeliveryWorkflow, erpOrderStartOptions, type ErpOrderDeliveryInput } from './order-delivery';

export interface ErpOrderSweepInput {
  /** A job without a workflow younger than this is left to the process that is starting it. */
  graceSeconds: number;
  /** At most this many sales read and jobs started per run (the next run takes the rest). */
  limit: number;
  /** The delivery settings every job's workflow gets (the node's config, via the schedule). */
  delivery: Pick<ErpOrderDeliveryInput, 'policy' | 'agentTimeoutMs' | 'callbackTimeoutSeconds'>;
}

/**
 * The order sweep (schedule `{node}:erp-order-sweep`): the order producer's pass over the POS log
 * (sales of mapped stores → orders and jobs), then an ErpOrderDelivery for every pending job that
 * has none, so neither a lost post-commit step nor a crash between a job's commit and its
 * workflow's start leaves an order undelivered. Children are abandoned (they outlive the sweep) and
 * their ids are the jobs', never reused, so a job is never delivered by two workflows.
 */
export async function erpOrderSweepWorkflow(input: ErpOrderSweepInput) {
  const { erpOrderSweep, erpMarkWorkflowsStarted } = proxyActivities<Activities>(databaseBatch);
  const { produced, jobs } = await erpOrderSweep({ graceMs: input.graceSeconds * 1000, limit: input.limit });
  const started: string[] = [];
  const existing: string[] = [];
  await Promise.all(
    jobs.map(async (job) => {
      try {
        await startChild(erpOrderDeliveryWorkflow, {
          ...erpOrderStartOptions(job.id, job.vendorId),
          args: [{ jobId: job.id, vendorId: job.vendorId, ...input.delivery }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
        started.push(job.id);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        existing.push(job.id);
      }
    }),
  );
  await erpMarkWorkflowsStarted({ jobIds: [...started, ...existing] });
  return { produced, started: started.length, alreadyStarted: existing.length };
}
