// The workflow bundle's entry point: every exported function here is a workflow type.
export { orphanHealerWorkflow } from './orphan-healer';
export type { OrphanHealerInput } from './orphan-healer';
export { peerRelayWorkflow } from './relay';
export type { RelayInput, RelaySettings, RelayStatus } from './relay';
export { storeReconcileWorkflow } from './store-reconcile';
export type { ReconcileProgress, StoreReconcileInput } from './store-reconcile';
export { reconcileSweepWorkflow } from './reconcile-sweep';
export type { ReconcileSweepInput, ReconcileSweepResult } from './reconcile-sweep';
export { healthMonitorWorkflow } from './health-monitor';
export type { HealthMonitorInput, HealthMonitorResult } from './health-monitor';
export { alertDeliveryWorkflow } from './alert-delivery';
export type { AlertDeliveryInput, AlertRetry } from './alert-delivery';
export { projectionSelfCheckWorkflow } from './self-check';
export type { SelfCheckInput, SelfCheckSummary } from './self-check';
export { fiscalRangeWorkflow } from './fiscal-range';
export type { FiscalRangeInput, FiscalRangeEnd, FiscalRangeStatus } from './fiscal-range';
