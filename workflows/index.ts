// The workflow bundle's entry point: every exported function here is a workflow type.
export { orphanHealerWorkflow } from './orphan-healer';
export type { OrphanHealerInput } from './orphan-healer';
export { peerRelayWorkflow } from './peer-relay';
export type { RelayInput, RelaySettings, RelayStatus } from './peer-relay';
export { storeReconcileWorkflow } from './store-reconcile';
export type { ReconcileProgress, StoreReconcileInput } from './store-reconcile';
export { reconcileSweepWorkflow } from './reconcile-sweep';
export type { ReconcileSweepInput, ReconcileSweepResult } from './reconcile-sweep';
