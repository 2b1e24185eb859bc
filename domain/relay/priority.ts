import type { EventType } from '../events/schemas';

/**
 * Causal relay order (docs/federation.md, "The relay"): what other events depend on goes first —
 * sessions, products and customers before sales, debts before payments, sales before voids.
 * Lower number = sent earlier; unknown types go last.
 */
export const RELAY_PRIORITY: Readonly<Record<EventType, number>> = {
  CashSessionOpened: 1,
  CashSessionClosed: 2,
  ProductCreated: 3,
  ProductUpdated: 3,
  CustomerCreated: 3,
  CustomerUpdated: 3,
  DebtCreated: 4,
  SaleCreated: 5,
  StockReceived: 5,
  StockAdjusted: 5,
  StockDeltaApplied: 5,
  DebtPaymentRecorded: 6,
  DebtPaymentAdded: 6,
  SaleVoided: 7,
  CashLedgerEntryCreated: 8,
  // Escrow rights before the grants they pay for, grants before what consumes or releases them
  // (only for tidiness: the escrow projections converge in any order).
  EscrowRightsMoved: 5,
  EscrowGranted: 6,
  EscrowConsumed: 7,
  EscrowReleased: 8,
  // A range's numbers are checked against its grant: series, blocks and grants before sales (a sale
  // that lands first is flagged out of range until the grant clears it; same rows, one step more).
  FiscalSeriesDeclared: 3,
  FiscalBlockGranted: 3,
  FiscalRangeGranted: 4,
  FiscalRangeClosed: 8,
};

export const DEFAULT_RELAY_PRIORITY = 10;

export function relayPriority(type: string): number {
  return RELAY_PRIORITY[type as EventType] ?? DEFAULT_RELAY_PRIORITY;
}

/** Orders a batch for sending: by priority, then by this node's commit order (stable). */
export function orderCausally<E extends { type: string; node_seq: number | string }>(events: E[]): E[] {
  return [...events].sort(
    (a, b) => relayPriority(a.type) - relayPriority(b.type) || Number(a.node_seq) - Number(b.node_seq),
  );
}
