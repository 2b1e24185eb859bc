import type { PosDatabase } from './db';
import { takeEscrow } from './escrow';
import type { FiscalOfflineService } from './fiscal-offline';
import type { SyncClient } from './sync-client';

export interface ReconnectStep {
  step: 'push' | 'fiscal-range' | 'escrow' | 'pull';
  ok: boolean;
  error?: string;
}

export interface ReconnectOptions {
  db: PosDatabase;
  sync: SyncClient;
  fiscal: FiscalOfflineService;
  escrowApi: Parameters<typeof takeEscrow>[1];
  /** The invoice series this till numbers (none: sales are not invoiced, no range is reserved). */
  seriesId: () => Promise<string | null>;
  now?: () => number;
}

/**
 * What the device does when the network comes back, in this order: push what it sold offline (so
 * the node counts it before granting anything), reserve a fiscal range if none is active, take
 * escrow for its top products, pull the feed (from a fresh snapshot, which shows the escrow the
 * other tills took). A failed step does not stop the later ones: each is useful alone, and the sync
 * loop retries the push with its own backoff.
 */
export class ReconnectOrchestrator {
  private running: Promise<ReconnectStep[]> | null = null;

  constructor(private readonly opts: ReconnectOptions) {}

  /** One reconnect round; a call while one runs joins it. */
  reconnect(): Promise<ReconnectStep[]> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<ReconnectStep[]> {
    const { sync, fiscal, db } = this.opts;
    const now = this.opts.now ?? Date.now;
    const steps: ReconnectStep[] = [];
    const attempt = async (step: ReconnectStep['step'], fn: () => Promise<unknown>) => {
      try {
        await fn();
        steps.push({ step, ok: true });
      } catch (err) {
        steps.push({ step, ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    };
    await attempt('push', () => sync.push());
    // The first contact fills the caches the escrow plan reads.
    if (!(await db.sync_state.get('bootstrapped'))?.value) await attempt('pull', () => sync.pull());
    await attempt('fiscal-range', async () => {
      const series = await this.opts.seriesId();
      if (series) await fiscal.ensureRange(series);
    });
    await attempt('escrow', async () => takeEscrow(db, this.opts.escrowApi, await sync.identity(), now()));
    await attempt('pull', () => sync.pull({ refresh: true }));
    await sync.refreshCounts();
    return steps;
  }
}
