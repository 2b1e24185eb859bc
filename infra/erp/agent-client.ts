import type { Log } from '../log';
import type { ErpWorkerMetrics } from '../metrics';

// HTTP calls from the node to an ERP agent. Every call carries the node's bearer token, the
// operation's X-Correlation-ID (logged on both sides) and, for writes, an Idempotency-Key the agent
// deduplicates on (a retried order is created once).

export type AgentFailureKind = 'unavailable' | 'refused';

/** An agent call that failed: `unavailable` (network, timeout, 5xx, 429) or `refused` (other 4xx, bad answer). */
export class AgentCallError extends Error {
  constructor(
    readonly kind: AgentFailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AgentCallError';
  }
}

export interface AgentCall {
  baseUrl: string;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  token: string | undefined;
  correlationId: string;
  idempotencyKey?: string;
  timeoutMs: number;
  log?: Log;
  /** Counted per vendor and API type (orders, items, stock) with the outcome, when given. */
  metrics?: {
    sink: Pick<ErpWorkerMetrics, 'erpAgentCalls' | 'erpAgentCallDuration'>;
    vendorId: string;
    apiType: string;
  };
}

export async function callAgent(c: AgentCall): Promise<unknown> {
  const started = process.hrtime.bigint();
  let outcome: 'ok' | AgentFailureKind = 'ok';
  try {
    return await send(c);
  } catch (err) {
    outcome = err instanceof AgentCallError ? err.kind : 'unavailable';
    throw err;
  } finally {
    if (c.metrics) {
      const labels = { vendor: c.metrics.vendorId, api_type: c.metrics.apiType, outcome };
      c.metrics.sink.erpAgentCalls.inc(labels);
      c.metrics.sink.erpAgentCallDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}

async function send(c: AgentCall): Promise<unknown> {
  const url = new URL(c.path.replace(/^\//, ''), c.baseUrl.endsWith('/') ? c.baseUrl : `${c.baseUrl}/`);
  for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { 'x-correlation-id': c.correlationId, accept: 'application/json' };
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  if (c.idempotencyKey) headers['idempotency-key'] = c.idempotencyKey;
  if (c.body !== undefined) headers['content-type'] = 'application/json';
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(url, {
      method: c.method,
      headers,
      body: c.body === undefined ? undefined : JSON.stringify(c.body),
      signal: AbortSignal.timeout(c.timeoutMs),
    });
  } catch (err) {
    const why =
      err instanceof Error && err.name === 'TimeoutError'
        ? `no answer within ${c.timeoutMs} ms`
        : err instanceof Error
          ? err.cause instanceof Error
            ? err.cause.message
            : err.message
          : String(err);
    c.log?.warn({ correlationId: c.correlationId, path: c.path, why }, 'erp agent unreachable');
    throw new AgentCallError('unavailable', `${c.method} ${c.path}: ${why}`);
  }
  const text = await res.text().catch(() => '');
  c.log?.debug(
    { correlationId: c.correlationId, path: c.path, status: res.status, ms: Date.now() - started },
    'erp agent call',
  );
  if (!res.ok) {
    const kind: AgentFailureKind = res.status >= 500 || res.status === 429 ? 'unavailable' : 'refused';
    throw new AgentCallError(
      kind,
      `${c.method} ${c.path}: HTTP ${res.status} ${text.slice(0, 200)}`,
      res.status,
    );
  }
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AgentCallError('refused', `${c.method} ${c.path}: the answer is not JSON`);
  }
}
