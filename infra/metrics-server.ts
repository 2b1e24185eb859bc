import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

// A worker-only replica serves no API, but its activities call the ERP agents, deliver orders and
// reconcile: Prometheus scrapes those counters here. Only GET /metrics and GET /healthz, no token
// (like the API's own /metrics and /healthz); every other path is 404.

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(opts: {
  registry: Registry;
  port: number;
  host: string;
  /** Liveness of the worker behind the port: /healthz answers 503 when it throws. */
  check: () => Promise<void>;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return answer(405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => answer(200, opts.registry.contentType, body),
        (err: unknown) => answer(500, 'text/plain', `metrics failed: ${String(err)}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      opts.check().then(
        () => answer(200, 'application/json', JSON.stringify({ status: 'ok', role: 'worker' })),
        (err: unknown) =>
          answer(
            503,
            'application/json',
            JSON.stringify({
              status: 'down',
              role: 'worker',
              error: err instanceof Error ? err.message : String(err),
            }),
          ),
      );
      return;
    }
    answer(404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
