import type { ActivityOptions } from '@temporalio/workflow';
import { Failure } from '../domain/errors';

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
    nonRetryableErrorTypes: [Failure.invalidInput],
  },
} as const satisfies ActivityOptions;

/**
 * Calls to a peer. No activity-level retries: the PeerRelay workflow counts each failure in its
 * circuit breaker and backs off on durable timers itself. The activity heartbeats between HTTP
 * requests, so a worker that dies mid-batch is noticed after one request timeout (plus slack), not
 * after the whole start-to-close budget.
 */
export function peerCall(httpTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: httpTimeoutMs + 2000,
    retry: { maximumAttempts: 1 },
  };
}

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
    nonRetryableErrorTypes: [Failure.peerRefused, Failure.unknownPeer, Failure.invalidInput],
  },
} as const satisfies ActivityOptions;

/**
 * One attempt of a call to an ERP agent (order delivery): no Temporal retries, because the workflow
 * counts attempts and backs off itself (its failed callbacks count too); the budget is the agent's
 * request timeout plus the breaker's two short transactions.
 */
export function erpAgentAttempt(agentTimeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: agentTimeoutMs + 10_000, retry: { maximumAttempts: 1 } };
}

/**
 * A reconciliation step against an ERP agent (a checksum, a range's records): retried a few times
 * while the agent is unavailable; a refusal or an open breaker ends the run (the next one tries again).
 */
export function erpReconcileStep(agentTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: agentTimeoutMs + 30_000,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '15 seconds',
      maximumAttempts: 4,
      nonRetryableErrorTypes: [Failure.erpAgentRefused, Failure.circuitOpen, Failure.agentNotRegistered],
    },
  };
}
