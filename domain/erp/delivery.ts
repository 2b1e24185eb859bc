// Order delivery to an ERP agent (ErpOrderDelivery): attempts and their backoff. Pure, so the
// workflow stays thin and this is unit-tested without Temporal.

export interface DeliveryPolicy {
  maxAttempts: number;
  /** Wait before the second attempt; each later wait doubles (the seed: 1m → 2m → 4m → 8m). */
  backoffSeconds: number;
  backoffCoefficient?: number;
}

/** Milliseconds to wait after failed attempt `attempt` (1-based) before the next one. */
export function backoffMs(attempt: number, p: DeliveryPolicy): number {
  return p.backoffSeconds * 1000 * (p.backoffCoefficient ?? 2) ** (attempt - 1);
}

export type DeliveryOutcome =
  | { status: 'completed'; erpReference: string; attempts: number }
  | { status: 'dead_lettered'; error: string; attempts: number };
