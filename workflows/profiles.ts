import type { ActivityOptions } from '@temporalio/workflow';

// Named timeout and retry profiles for activities. A workflow picks one by name, so a reader sees
// how long a step may take and how it is retried without hunting for numbers.

/** One database transaction over a bounded batch (orphan healing, cursor reads). */
export const databaseBatch = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['INVALID_INPUT'],
  },
} as const satisfies ActivityOptions;

/**
 * One push of a batch to a peer. No activity-level retries: the PeerRelay workflow counts each
 * failure in its circuit breaker and backs off on durable timers itself.
 */
export const peerCall = {
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 1 },
} as const satisfies ActivityOptions;
