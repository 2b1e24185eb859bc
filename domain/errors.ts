// The error catalogue: every machine-readable code this node gives out or tells apart, in one place.
// Three families: what the API answers (`{"error":{"code",…}}` with an HTTP status), what a push
// lists per refused event (`rejected[].code`), and the ApplicationFailure types activities throw and
// workflows (and their retry profiles) tell apart. docs/api.md lists the API codes for clients.
// No zod or other runtime imports: workflows import this module into their sandbox.

/** Codes of the API's error answers (`AppError(status, code)` and the error handler's own). */
export const ApiError = {
  validationFailed: 'VALIDATION_FAILED',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  rateLimited: 'RATE_LIMITED',
  notFound: 'NOT_FOUND',
  badRequest: 'BAD_REQUEST',
  invalidJson: 'INVALID_JSON',
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  invalidContentLength: 'INVALID_CONTENT_LENGTH',
  tooManyEvents: 'TOO_MANY_EVENTS',
  storeNotFound: 'STORE_NOT_FOUND',
  deviceNotFound: 'DEVICE_NOT_FOUND',
  deviceExists: 'DEVICE_EXISTS',
  deviceRevoked: 'DEVICE_REVOKED',
  peerNotFound: 'PEER_NOT_FOUND',
  peerUnavailable: 'PEER_UNAVAILABLE',
  eventNotFound: 'EVENT_NOT_FOUND',
  deadLetterNotFound: 'DEAD_LETTER_NOT_FOUND',
  productNotFound: 'PRODUCT_NOT_FOUND',
  debtNotFound: 'DEBT_NOT_FOUND',
  noPeers: 'NO_PEERS',
  lockHeld: 'LOCK_HELD',
  reconcileFailed: 'RECONCILE_FAILED',
  temporalUnavailable: 'TEMPORAL_UNAVAILABLE',
  relayNotRunning: 'RELAY_NOT_RUNNING',
  invalidRelaySettings: 'INVALID_RELAY_SETTINGS',
  relayUnavailable: 'RELAY_UNAVAILABLE',
  fiscalSeriesExists: 'FISCAL_SERIES_EXISTS',
  fiscalSeriesExhausted: 'FISCAL_SERIES_EXHAUSTED',
  fiscalSeriesExpired: 'FISCAL_SERIES_EXPIRED',
  fiscalNoBlock: 'FISCAL_NO_BLOCK',
  fiscalNotHome: 'FISCAL_NOT_HOME',
  fiscalSeriesNotFound: 'FISCAL_SERIES_NOT_FOUND',
  agentNotFound: 'AGENT_NOT_FOUND',
  agentRegistrationDisabled: 'AGENT_REGISTRATION_DISABLED',
  mappingNotFound: 'MAPPING_NOT_FOUND',
  jobNotFound: 'JOB_NOT_FOUND',
  deadLetterResolved: 'DEAD_LETTER_RESOLVED',
  orderAlreadyCompleted: 'ORDER_ALREADY_COMPLETED',
  storeVendorNotFound: 'STORE_VENDOR_NOT_FOUND',
  tooManyItems: 'TOO_MANY_ITEMS',
  databaseUnavailable: 'DATABASE_UNAVAILABLE',
  databaseBusy: 'DB_BUSY',
  internal: 'INTERNAL',
} as const;
export type ApiErrorCode = (typeof ApiError)[keyof typeof ApiError];

/** Why one event of a push was refused (`rejected[].code`); the rest of the request goes on. */
export const Rejection = {
  invalidEvent: 'INVALID_EVENT',
  eventTooLarge: 'EVENT_TOO_LARGE',
  eventTooDeep: 'EVENT_TOO_DEEP',
  invalidString: 'INVALID_STRING',
  tooManyClockEntries: 'TOO_MANY_CLOCK_ENTRIES',
  dateOutOfRange: 'DATE_OUT_OF_RANGE',
  storeMismatch: 'STORE_MISMATCH',
  deviceMismatch: 'DEVICE_MISMATCH',
  eventIdConflict: 'EVENT_ID_CONFLICT',
  nodeMadeEvent: 'NODE_MADE_EVENT',
} as const;
export type RejectionCode = (typeof Rejection)[keyof typeof Rejection];
export const REJECTION_CODES = Object.values(Rejection);

/**
 * ApplicationFailure types. PEER_UNAVAILABLE is retried (and counted by the relay's circuit
 * breaker); the others are final, and workflows/profiles.ts lists them as non-retryable.
 */
export const Failure = {
  peerUnavailable: 'PEER_UNAVAILABLE',
  peerRefused: 'PEER_REFUSED',
  unknownPeer: 'UNKNOWN_PEER',
  invalidInput: 'INVALID_INPUT',
  /** An ERP agent unreachable, timing out or answering 5xx/429: retried. */
  erpAgentUnavailable: 'ERP_AGENT_UNAVAILABLE',
  /** The vendor's breaker is open: the call was not made; retried after the backoff. */
  circuitOpen: 'CIRCUIT_OPEN',
  /** The agent refused the request (4xx) or answered outside the contract: counted, not retried at once. */
  erpAgentRefused: 'ERP_AGENT_REFUSED',
  /** No active agent is registered for the vendor. */
  agentNotRegistered: 'AGENT_NOT_REGISTERED',
} as const;
export type FailureType = (typeof Failure)[keyof typeof Failure];

/** Codes a PeerError carries besides the peer's own error codes and `HTTP_<status>`. */
export const PeerFailure = {
  unreachable: 'PEER_UNREACHABLE',
  /** The peer answered, but not with what the wire contract says (domain/wire/peer-protocol.ts). */
  badResponse: 'PEER_BAD_RESPONSE',
  /** A dead letter whose push failed without a PeerError to name it. */
  unknown: 'ERROR',
} as const;

/** A domain error with an HTTP status and a stable machine-readable code. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export interface IssueDetail {
  path: string;
  message: string;
}

/** What a zod issue (or anything shaped like one) says, with its path under `prefix`. */
export function issueDetails(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: readonly PropertyKey[] = [],
): IssueDetail[] {
  return issues.map((i) => ({ path: [...prefix, ...i.path].map(String).join('.'), message: i.message }));
}

/** Issues as one line: `path: message; path: message` (a bare message where the path is empty). */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: readonly PropertyKey[] = [],
): string {
  return issueDetails(issues, prefix)
    .map((d) => (d.path ? `${d.path}: ${d.message}` : d.message))
    .join('; ');
}
