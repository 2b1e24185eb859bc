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

/**
 * One anti-entropy step against a peer (digest walk, or pull/push of a chunk). The step heartbeats,
 * so a killed worker's step is retried within seconds; a peer that stays unreachable fails the
 * reconcile after about half a minute of retries (the next sweep tries again).
 */
export const reconcileStep = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '15 seconds',
    maximumAttempts: 6,
    nonRetryableErrorTypes: ['PEER_REFUSED', 'UNKNOWN_PEER', 'INVALID_INPUT'],
  },
} as const satisfies ActivityOptions;
