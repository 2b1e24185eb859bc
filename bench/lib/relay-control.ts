/** Driving the relays of two benchmarked nodes through their admin API (bench/replication.ts). */
import { relayWorkflowId } from '../../workflows/ids';
import type { TestNode } from './node';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function adminRequest<T>(
  node: TestNode,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const res = await node.request<T>(method, url, body);
  if (res.status >= 300)
    throw new Error(`${method} ${url} on ${node.id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

interface PeerStatus {
  peer_id: string;
  paused: boolean | null;
  lag: { events: number | null };
  circuit: { state: string };
}

export async function relayStatus(node: TestNode): Promise<PeerStatus> {
  const body = await adminRequest<{ peers: PeerStatus[] }>(node, 'GET', '/sync/federation/status');
  return body.peers[0]!;
}

/** Both relays caught up (lag 0), then a moment of calm. */
export async function quiesce(a: TestNode, b: TestNode, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [sa, sb] = await Promise.all([relayStatus(a), relayStatus(b)]);
    if (sa.lag.events === 0 && sb.lag.events === 0 && !sa.paused && !sb.paused) break;
    if (Date.now() > deadline) throw new Error(`relays did not drain: ${JSON.stringify([sa, sb])}`);
    await sleep(100);
  }
  await sleep(500);
}

/** Pauses (until no batch is in flight) or resumes the relay of node `a` to its peer `to`. */
export async function setRelayPaused(a: TestNode, to: string, paused: boolean): Promise<void> {
  await adminRequest(a, 'POST', `/sync/federation/relays/${to}/${paused ? 'pause' : 'resume'}`);
  if (!paused) return;
  // Paused and no batch in flight.
  for (;;) {
    const s = await relayStatus(a);
    const d = await a.client!.workflow.getHandle(relayWorkflowId(a.id, to)).describe();
    if (s.paused && (d.raw.pendingActivities ?? []).length === 0) return;
    await sleep(50);
  }
}
