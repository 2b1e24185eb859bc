// The workflow bundle's entry point: every exported function here is a workflow type.
export { orphanHealerWorkflow } from './orphan-healer';
export type { OrphanHealerInput } from './orphan-healer';
export { peerRelayWorkflow } from './relay';
export type { RelayInput, RelaySettings, RelayStatus } from './relay';
export { storeReconcileWorkflow } from './store-reconcile';
export type { ReconcileProgress, StoreReconcileInput } from './store-reconcile';
export { reconcileSweepWorkflow } from './reconcile-sweep';
export type { ReconcileSweepInput, ReconcileSweepResult } from './reconcile-sweep';
export { escrowGrantWorkflow } from './escrow-grant';
export type { EscrowGrantInput, EscrowGrantState } from './escrow-grant';
export { oversellDetectorWorkflow } from './oversell-detector';
