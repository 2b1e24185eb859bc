/**
 * What a database error means to a client: the database cannot be reached (retry later, the node
 * recovers by itself when it is back) or it is there but too busy to answer in time (a lock held
 * past lock_timeout, a statement past statement_timeout): retry soon. Anything else is not a
 * database outage and stays a 500 (a bug).
 */
export type DatabaseFailure = 'unavailable' | 'busy';

/** Socket-level failures reaching PostgreSQL (TCP or the Unix socket). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

const SOCKET_CALLS = new Set(['connect', 'read', 'write', 'getaddrinfo']);

/** SQLSTATEs of a server that is going away, starting, or out of connections. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * SQLSTATEs of contention: lock_timeout, statement_timeout (query_canceled), a deadlock or
 * serialization failure that outlived ingest's retries, and a transaction the server ended because
 * it sat idle past idle_in_transaction_session_timeout.
 */
const BUSY_SQLSTATES = new Set(['55P03', '57014', '40P01', '40001', '25P03']);

/** pg's own messages for a connection that died or never came up (they carry no code). */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
];

export function databaseFailure(err: unknown): DatabaseFailure | undefined {
  const seen = new Set<unknown>();
  const walk = (e: unknown): DatabaseFailure | undefined => {
    if (typeof e !== 'object' || e === null || seen.has(e)) return undefined;
    seen.add(e);
    const { code, syscall, message, cause, errors } = e as {
      code?: unknown;
      syscall?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string') {
      if (BUSY_SQLSTATES.has(code)) return 'busy';
      // Class 08: connection exceptions.
      if (UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return 'unavailable';
      // Socket errors only: an ENOENT from opening a file is not a database outage.
      if (NETWORK_CODES.has(code) && (syscall === undefined || SOCKET_CALLS.has(String(syscall)))) {
        return 'unavailable';
      }
    }
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) {
      return 'unavailable';
    }
    // Node wraps a failed connect to several addresses in an AggregateError.
    for (const inner of Array.isArray(errors) ? errors : []) {
      const found = walk(inner);
      if (found) return found;
    }
    return walk(cause);
  };
  return walk(err);
}
