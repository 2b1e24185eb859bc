import { condition, defineQuery, defineSignal, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import type { Activities } from '../../activities';
import { backoffMs, type DeliveryOutcome, type DeliveryPolicy } from '../../domain/erp/delivery';
import { databaseBatch, erpAgentAttempt } from '../profiles';
import { ErpVendorIdKey } from '../search-keys';
import { erpOrderWorkflowId } from './ids';

export interface ErpOrderDeliveryInput {
  jobId: string;
  vendorId: string;
  policy: DeliveryPolicy;
  /** The agent's request timeout (the seed: 30 s). */
  agentTimeoutMs: number;
  /** How long an accepted order waits for the agent's callback before the attempt counts as failed. */
  callbackTimeoutSeconds: number;
}

export interface ErpCallback {
  status: 'completed' | 'failed';
  erpReference?: string;
  error?: string;
}

export interface DeliveryStatus {
  jobId: string;
  attempt: number;
  phase: 'delivering' | 'awaiting_callback' | 'backoff' | 'completed' | 'dead_lettered';
  lastError: string | null;
}

/** The agent's callback (POST /api/agents/callback) for this job. */
export const erpCallbackSignal = defineSignal<[ErpCallback]>('erpCallback');
export const deliveryStatusQuery = defineQuery<DeliveryStatus>('deliveryStatus');

export function erpOrderStartOptions(jobId: string, vendorId: string) {
  const typedSearchAttributes: SearchAttributePair[] = [{ key: ErpVendorIdKey, value: vendorId }];
  return {
    workflowId: erpOrderWorkflowId(jobId),
    typedSearchAttributes,
    memo: { role: 'ErpOrderDelivery', vendor: vendorId, job: jobId },
  };
}

/**
 * ErpOrderDelivery (`erp-order:{jobId}`): delivers one order to its vendor's ERP agent. Each attempt
 * is one call (the activity is not retried by Temporal: the attempts, their backoff and the agent's
 * failed callbacks are counted here, in one place); an accepted order waits for the callback signal.
 * A completed callback at any time completes the job; after the last failed attempt the job goes to
 * the dead letters.
 */
export async function erpOrderDeliveryWorkflow(input: ErpOrderDeliveryInput): Promise<DeliveryOutcome> {
  const { erpDeliverOrder } = proxyActivities<Activities>(erpAgentAttempt(input.agentTimeoutMs));
  const { erpRecordAttemptFailure, erpCompleteJob, erpDeadLetter } =
    proxyActivities<Activities>(databaseBatch);

  const status: DeliveryStatus = { jobId: input.jobId, attempt: 0, phase: 'delivering', lastError: null };
  let completedRef: string | null = null;
  let failedCallback: string | null = null;
  setHandler(erpCallbackSignal, (cb) => {
    if (cb.status === 'completed' && cb.erpReference) completedRef ??= cb.erpReference;
    else if (cb.status === 'failed') failedCallback = cb.error ?? 'the agent reported a failure';
  });
  setHandler(deliveryStatusQuery, () => status);

  const complete = async (erpReference: string): Promise<DeliveryOutcome> => {
    await erpCompleteJob({ jobId: input.jobId, erpReference });
    status.phase = 'completed';
    return { status: 'completed', erpReference, attempts: status.attempt };
  };

  for (let attempt = 1; attempt <= input.policy.maxAttempts; attempt++) {
    status.attempt = attempt;
    status.phase = 'delivering';
    failedCallback = null;
    if (completedRef !== null) return complete(completedRef);
    try {
      const answer = await erpDeliverOrder({ jobId: input.jobId, attempt, timeoutMs: input.agentTimeoutMs });
      if (answer.status === 'completed') return complete(answer.erpReference);
      status.phase = 'awaiting_callback';
      const heard = await condition(
        () => completedRef !== null || failedCallback !== null,
        input.callbackTimeoutSeconds * 1000,
      );
      if (completedRef !== null) return complete(completedRef);
      status.lastError = heard ? failedCallback : `no callback within ${input.callbackTimeoutSeconds} s`;
    } catch (err) {
      status.lastError = err instanceof Error ? rootMessage(err) : String(err);
    }
    log.warn('erp order attempt failed', { jobId: input.jobId, attempt, error: status.lastError });
    await erpRecordAttemptFailure({ jobId: input.jobId, error: status.lastError ?? 'failed' });
    if (attempt < input.policy.maxAttempts) {
      status.phase = 'backoff';
      // A completed callback (a slow agent's) ends the wait at once.
      if (await condition(() => completedRef !== null, backoffMs(attempt, input.policy))) {
        return complete(completedRef!);
      }
    }
  }
  const error = status.lastError ?? 'every attempt failed';
  await erpDeadLetter({ jobId: input.jobId, error, attempts: input.policy.maxAttempts });
  status.phase = 'dead_lettered';
  return { status: 'dead_lettered', error, attempts: input.policy.maxAttempts };
}

function rootMessage(err: Error): string {
  let e: Error = err;
  while (e.cause instanceof Error) e = e.cause;
  return e.message;
}
