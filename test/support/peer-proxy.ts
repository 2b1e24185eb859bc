import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ObservedPush {
  /** Size of the request body as it crossed the wire. */
  bytes: number;
  eventIds: string[];
  /** The status the client got: the real node's, or the proxy's own 500. */
  status: number;
}

/**
 * An HTTP proxy in front of a real node, for tests of what a relay does when a peer misbehaves: it
 * forwards every request unchanged, records each push it sees (body size, event ids, status), and
 * answers 500 itself for the pushes `failPush` picks — the peer choking on one event, or failing
 * every push — and drops the connection after the node answered for the pushes `dropAnswer` picks
 * (a response lost after commit). If the node behind it is down, the client's connection is dropped,
 * as if the peer were.
 */
export class PeerProxy {
  readonly pushes: ObservedPush[] = [];
  /** Which pushes get a 500 instead of reaching the node (none by default). */
  failPush: (eventIds: string[]) => boolean = () => false;
  /**
   * Which pushes lose their answer: the push reaches the node and the node answers (so it has
   * committed), then the client's connection is dropped before it sees a byte of that answer.
   */
  dropAnswer: (eventIds: string[]) => boolean = () => false;
  /** A network partition: while set, every request is dropped before it reaches the node. */
  cut = false;
  private server: Server | null = null;
  private port = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.cut) {
      res.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let push: ObservedPush | null = null;
    if (req.method === 'POST' && req.url?.startsWith('/sync/push')) {
      const parsed = JSON.parse(body.toString('utf8')) as { events?: { event_id: string }[] };
      push = { bytes: body.length, eventIds: (parsed.events ?? []).map((e) => e.event_id), status: 0 };
      this.pushes.push(push);
      if (this.failPush(push.eventIds)) {
        push.status = 500;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error; see the node logs' } }),
        );
        return;
      }
    }
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    let upstream: Response;
    try {
      upstream = await fetch(`${this.target}${req.url}`, {
        method: req.method,
        headers,
        body: body.length > 0 ? body : undefined,
      });
    } catch {
      res.destroy();
      return;
    }
    const text = await upstream.text();
    if (push) push.status = upstream.status;
    if (push && this.dropAnswer(push.eventIds)) {
      res.destroy();
      return;
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
    res.end(text);
  }
}
