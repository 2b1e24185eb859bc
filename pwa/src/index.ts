// The offline POS client library: embed it in any front end (docs/pwa.md).
export { createNodeApi, NetworkError, NodeApiError } from './node-api';
export type {
  NodeApi,
  PushResult,
  PullResult,
  StoreSnapshot,
  FiscalRangeGrant,
  EscrowGrantResult,
} from './node-api';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export type { BackoffOptions } from './backoff';
export { PosDatabase } from './db';
export type * from './db';
export { escrowQty, planEscrow, takeEscrow } from './escrow';
export { FiscalOfflineService, FiscalRangeExhaustedError } from './fiscal-offline';
export type { Observable } from './observable';
export { createPosClient, DeviceMismatchError, PosClient, SignInError } from './pos-client';
export type { Credentials, PosClientOptions } from './pos-client';
export { ReconnectOrchestrator } from './reconnect-orchestrator';
export type { ReconnectStep } from './reconnect-orchestrator';
export { SaleService } from './sales';
export type { CartLine, SaleResult } from './sales';
export { StockValidator } from './stock-validator';
export type { StockError, StockValidationResult, StockWarning } from './stock-validator';
export { NotSignedInError, SyncClient } from './sync-client';
export type { SyncState, SyncStatus } from './sync-client';
