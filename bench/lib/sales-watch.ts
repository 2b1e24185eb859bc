/** Watching a node's database for sales as they commit (bench/replication.ts measures lag with it). */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows B's commits in order: `node_seq` is handed out at the end of each ingest transaction, so it
 * follows commit order and a cursor over it never steps over a late commit. Each poll returns the sale
 * rows (of SaleCreated events) B committed since the last one, joined to B's `sales` (the projection
 * is written in the same transaction as the event), so a poll costs what arrived, not what is pending.
 */
export class SalesTail {
  private cursor = '0';
  constructor(
    private readonly client: pg.Client,
    private readonly storeId: string,
  ) {}

  async start(): Promise<void> {
    const r = await this.client.query<{ seq: string | null }>(
      'SELECT max(node_seq)::text AS seq FROM events',
    );
    this.cursor = r.rows[0]!.seq ?? '0';
  }

  async poll(): Promise<string[]> {
    const r = await this.client.query<{ seq: string; id: string }>(
      `SELECT e.node_seq::text AS seq, s.id::text AS id
       FROM events e JOIN sales s ON s.id = (e.payload->>'sale_id')::uuid
       WHERE e.node_seq > $1 AND e.store_id = $2 AND e.type = 'SaleCreated'
       ORDER BY e.node_seq LIMIT 20000`,
      [this.cursor, this.storeId],
    );
    if (r.rows.length > 0) this.cursor = r.rows[r.rows.length - 1]!.seq;
    return r.rows.map((x) => x.id);
  }
}

/**
 * Watches B for the tracked sales: every pollMs, what B committed since the last poll; a tracked
 * sale's lag is measured to the start of the query that first saw it.
 */
export async function startWatcher(client: pg.Client, storeId: string, pollMs: number) {
  const tail = new SalesTail(client, storeId);
  await tail.start();
  const pending = new Map<string, number>();
  const lags: number[] = [];
  const seen: { sentAt: number; lag: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running || pending.size > 0) {
      const t = performance.now();
      for (const id of await tail.poll()) {
        const sentAt = pending.get(id);
        if (sentAt === undefined) continue;
        lags.push(t - sentAt);
        seen.push({ sentAt, lag: t - sentAt });
        pending.delete(id);
      }
      const wait = pollMs - (performance.now() - t);
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    track(id: string, sentAt: number) {
      pending.set(id, sentAt);
    },
    /** Stops once every tracked sale was seen, or gives up after timeoutMs (those are lost). */
    async finish(timeoutMs: number): Promise<{ lags: number[]; seen: typeof seen; lost: number }> {
      running = false;
      const lost = await Promise.race([loop.then(() => 0), sleep(timeoutMs).then(() => pending.size)]);
      if (lost > 0) pending.clear();
      await loop;
      return { lags, seen, lost };
    },
  };
}
