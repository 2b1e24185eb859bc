/**
 * The benchmarks' HTTP client: one keep-alive connection per client (a till keeps its connection
 * open), bodies serialised by the caller before the clock starts, and the node's push/pull calls.
 */
import http from 'node:http';

export interface HttpResponse {
  status: number;
  body: string;
}

export interface PushResult {
  accepted: string[];
  duplicates: string[];
  rejected: unknown[];
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(
    baseUrl: string,
    private readonly token: string,
    /** maxSockets 1 (the default): one connection, requests in turn, like a till; more for open-loop load. */
    { keepAlive = true, timeoutMs = 20_000, maxSockets = 1 } = {},
  ) {
    this.base = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive, maxSockets });
    this.timeoutMs = timeoutMs;
  }

  private readonly timeoutMs: number;

  request(method: string, path: string, body?: Buffer): Promise<HttpResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { agent: this.agent, host: this.base.hostname, port: this.base.port, method, path, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no response within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POST /sync/push of a serialised body; throws on a non-200 answer. */
  async push(body: Buffer): Promise<PushResult> {
    const res = await this.request('POST', '/sync/push', body);
    if (res.status !== 200) throw new Error(`push: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body) as PushResult;
  }

  /** GET /sync/pull of one store after a cursor. */
  async pull(
    storeId: string,
    since: number,
    limit = 500,
  ): Promise<{ events: { node_seq: number }[]; next_since: number; has_more: boolean }> {
    const q = new URLSearchParams({ store_id: storeId, since: String(since), limit: String(limit) });
    const res = await this.request('GET', `/sync/pull?${q}`);
    if (res.status !== 200) throw new Error(`pull: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body) as { events: { node_seq: number }[]; next_since: number; has_more: boolean };
  }

  /** A JSON request that must succeed (2xx); its parsed answer. */
  async json<T = Record<string, unknown>>(method: string, path: string, payload?: unknown): Promise<T> {
    const res = await this.request(
      method,
      path,
      payload === undefined ? undefined : Buffer.from(JSON.stringify(payload)),
    );
    if (res.status < 200 || res.status >= 300)
      throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
    return (res.body ? JSON.parse(res.body) : undefined) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}
