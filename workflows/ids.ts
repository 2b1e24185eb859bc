/**
 * Every workflow and schedule id the node makes, in one place. Each carries the node id, so two
 * nodes pointed at one namespace by mistake never address each other's actors (and the start-up
 * guard can tell whose an actor is). Node, peer and store ids contain no ':' (config and store
 * schemas), so an id splits back into its parts unambiguously.
 *
 * Pure: imported by workflows too.
 */

/** PeerRelay of this node towards one peer. */
export const relayWorkflowId = (nodeId: string, peerId: string): string => `relay:${nodeId}:${peerId}`;

/** StoreReconcile of one store with one peer: the id is the lock (conflict policy FAIL). */
export const reconcileWorkflowId = (nodeId: string, storeId: string, peerId: string): string =>
  `reconcile:${nodeId}:${storeId}:${peerId}`;

/**
 * The id StoreReconcile had before ids carried the node id. Only a ReconcileSweep started by an
 * older node (its input has no nodeId) still uses it, so that sweep replays as it ran.
 */
export const legacyReconcileWorkflowId = (storeId: string, peerId: string, idPrefix = ''): string =>
  `${idPrefix}reconcile:${storeId}:${peerId}`;

/**
 * FiscalRange of one device range. Range ids are uuids made by the granting node, so the id is
 * unique across nodes without the node id; its memo names the node.
 */
export const fiscalRangeWorkflowId = (rangeId: string): string => `fiscal-range:${rangeId}`;

/** The OrphanHealer schedule; also the id of the workflows it starts (the server appends a timestamp). */
export const orphanHealerScheduleId = (nodeId: string): string => `${nodeId}:orphan-healer`;

/** The ReconcileSweep schedule; also the id of the workflows it starts (the server appends a timestamp). */
export const reconcileSweepScheduleId = (nodeId: string): string => `${nodeId}:reconcile-sweep`;

/** The EscrowGrant of one quota (grant ids are uuids made by the granting node). */
export const escrowGrantWorkflowId = (grantId: string): string => `escrow:${grantId}`;

/** The OversellDetector schedule; also the id of the workflows it starts (the server appends a timestamp). */
export const oversellDetectorScheduleId = (nodeId: string): string => `${nodeId}:oversell-detector`;
/** The HealthMonitor schedule; also the id of the workflows it starts (the server appends a timestamp). */
export const healthMonitorScheduleId = (nodeId: string): string => `${nodeId}:health-snapshot`;

/** The daily ProjectionSelfCheck schedule; also the id of the workflows it starts. */
export const selfCheckScheduleId = (nodeId: string): string => `${nodeId}:projection-self-check`;

/** A self-check of one store asked by an operator: one at a time per store. */
export const selfCheckWorkflowId = (nodeId: string, storeId: string): string =>
  `self-check:${nodeId}:${storeId}`;

/** AlertDelivery of one alert: started once per alert (a finished one is never started again). */
export const alertWorkflowId = (nodeId: string, alertId: string): string => `alert:${nodeId}:${alertId}`;

/**
 * The node a relay, reconcile or schedule id belongs to, or undefined when the id does not say (an
 * id from before ids carried the node id).
 */
export function nodeOfActorId(id: string): string | undefined {
  const parts = id.split(':');
  if (parts[0] === 'relay' && parts.length === 3) return parts[1];
  if (parts[0] === 'reconcile' && parts.length === 4) return parts[1];
  if (parts[0] === 'alert' && parts.length === 3) return parts[1];
  if (parts[0] === 'self-check' && parts.length === 3) return parts[1];
  if (parts.length === 2 && SCHEDULE_NAMES.has(parts[1]!)) return parts[0];
  return undefined;
}

const SCHEDULE_NAMES = new Set([
  'orphan-healer',
  'reconcile-sweep',
  'health-snapshot',
  'projection-self-check',
  'oversell-detector',
]);
