import { randomUUID } from 'node:crypto';
import type { SyncEvent } from '../../domain/events/schemas';
import { DeviceSim } from './events';
import type { TestNode } from './nodes';

// Till traffic for the chaos suites: each device pushes one event per request, in order, and keeps
// re-sending the same event (same id, same payload) until the node acknowledges it — what a real
// till's outbox does when a push fails with a 5xx, a refused connection or a timeout. So an event the
// node answered 200 with its id in `accepted` (or `duplicates`: an earlier attempt committed but the
// answer was lost) is acknowledged, and "lost" can only mean acknowledged but missing.

export interface TillDevice {
  node: TestNode;
  storeId: string;
  id: string;
  token: string;
}

export interface PushStats {
  /** Events acknowledged (200, id in accepted or duplicates). */
  acked: number;
  /** Of those, answered as duplicates: an earlier attempt had committed but its answer was lost. */
  duplicates: number;
  /** Attempts that failed (5xx, connection refused or reset, timeout) and were retried. */
  retries: number;
  /** Pushes refused for good (4xx or a rejected event): a bug in the node or in the traffic. */
  refused: string[];
  /** Answers 500 (retried like any 5xx, but a bug: a fault must give 503, never 500). */
  internalErrors: string[];
}

const REQUEST_TIMEOUT_MS = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One device: pushes the events `next` makes, one per request, each until acknowledged. */
export class Till {
  readonly acked: string[] = [];
  readonly stats: PushStats = { acked: 0, duplicates: 0, retries: 0, refused: [], internalErrors: [] };
  private stopping = false;
  private running: Promise<void> | null = null;

  constructor(
    readonly device: TillDevice,
    /** The device's next event (null: it has none left). Called once per event, not per attempt. */
    private readonly next: () => SyncEvent | null,
    private readonly opts: { intervalMs: number; retryMs?: number } = { intervalMs: 0 },
  ) {}

  start(): void {
    this.stopping = false;
    this.running = this.loop();
  }

  /** Lets the event in flight be acknowledged, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Resolves when the device has pushed every event it has (next() returned null). */
  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const event = this.next();
      if (!event) return;
      await this.pushUntilAcked(event);
      if (this.opts.intervalMs > 0) await sleep(this.opts.intervalMs);
    }
  }

  private async pushUntilAcked(event: SyncEvent): Promise<void> {
    const { node, storeId, id, token } = this.device;
    const body = JSON.stringify({ store_id: storeId, device_id: id, events: [event] });
    for (;;) {
      let status = 0;
      let answer: { accepted?: string[]; duplicates?: string[]; rejected?: unknown[] } | undefined;
      try {
        const res = await fetch(`${node.url}/sync/push`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'x-request-id': randomUUID(),
          },
          body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = res.status;
        const text = await res.text();
        answer = text ? (JSON.parse(text) as typeof answer) : undefined;
      } catch {
        status = 0; // refused, reset, timed out: the till does not know whether it committed
      }
      if (status === 200 && answer) {
        if (answer.accepted?.includes(event.event_id)) {
          this.acked.push(event.event_id);
          this.stats.acked++;
          return;
        }
        if (answer.duplicates?.includes(event.event_id)) {
          this.acked.push(event.event_id);
          this.stats.acked++;
          this.stats.duplicates++;
          return;
        }
        this.stats.refused.push(`${event.type} ${event.event_id}: ${JSON.stringify(answer)}`);
        return;
      }
      if (status >= 400 && status < 500 && status !== 429) {
        this.stats.refused.push(`${event.type} ${event.event_id}: ${status} ${JSON.stringify(answer)}`);
        return;
      }
      if (status === 500)
        this.stats.internalErrors.push(`${event.type} ${event.event_id}: ${JSON.stringify(answer)}`);
      this.stats.retries++;
      await sleep(this.opts.retryMs ?? 200);
    }
  }
}

/** Several tills at once. */
export class Traffic {
  constructor(readonly tills: Till[]) {}

  start(): void {
    for (const t of this.tills) t.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.tills.map((t) => t.stop()));
  }

  /** Every acknowledged event id. */
  get acked(): string[] {
    return this.tills.flatMap((t) => t.acked);
  }

  get stats(): PushStats {
    const out: PushStats = { acked: 0, duplicates: 0, retries: 0, refused: [], internalErrors: [] };
    for (const t of this.tills) {
      out.acked += t.stats.acked;
      out.duplicates += t.stats.duplicates;
      out.retries += t.stats.retries;
      out.refused.push(...t.stats.refused);
      out.internalErrors.push(...t.stats.internalErrors);
    }
    return out;
  }

  /** Waits until `n` events more than now are acknowledged (a fault lands under traffic, not in a lull). */
  async waitAcked(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.stats.acked + n;
    const deadline = Date.now() + timeoutMs;
    while (this.stats.acked < target) {
      if (Date.now() > deadline)
        throw new Error(`traffic stalled: ${this.stats.acked}/${target} acknowledged`);
      await sleep(50);
    }
  }
}

/**
 * A till's day, endlessly: a cash session, its own products and stock, sales (most of the events),
 * customers, debts and payments, ledger entries, voids, price changes, stock adjustments. Each device
 * edits only its own products and customers, sells only well-stocked products and its clock starts
 * hours in the past: the run raises no conflict, oversell or clock alert, so health can come back to
 * `healthy` and any finding is the fault's.
 */
export function tillDay(device: TillDevice, limit = Infinity): () => SyncEvent | null {
  const sim = new DeviceSim(device.storeId, device.id, Date.now() - 6 * 3600_000);
  const session = randomUUID();
  const products: string[] = [];
  const sales: string[] = [];
  const debts: string[] = [];
  let n = 0;
  const sale = (): SyncEvent => {
    const sale_id = randomUUID();
    sales.push(sale_id);
    const items = products.slice(-2).map((product_id, i) => ({ product_id, qty: 1 + i, unit_price: 2.5 }));
    return sim.event('SaleCreated', {
      sale_id,
      session_id: session,
      items,
      total: items.reduce((t, i) => t + i.qty * 2.5, 0),
    });
  };
  const plan: (() => SyncEvent)[] = [
    () => {
      products.push(randomUUID());
      return sim.event('ProductCreated', { product_id: products.at(-1)!, name: 'Coffee', price: 2.5 });
    },
    () => sim.event('StockReceived', { product_id: products.at(-1)!, qty: 1000 }),
    sale,
    sale,
    () => {
      debts.push(randomUUID());
      return sim.event('DebtCreated', { debt_id: debts.at(-1)!, amount: 40 });
    },
    sale,
    () =>
      sim.event('DebtPaymentRecorded', {
        payment_id: randomUUID(),
        debt_id: debts.at(-1)!,
        amount: 10,
        payment_method: 'cash',
      }),
    () =>
      sim.event('CashLedgerEntryCreated', {
        entry_id: randomUUID(),
        session_id: session,
        kind: 'in',
        amount: 5,
      }),
    sale,
    () => sim.event('SaleVoided', { sale_id: sales.at(-1)!, reason: 'customer changed mind' }),
    () => sim.event('ProductUpdated', { product_id: products.at(-1)!, price: 3 }),
    () => sim.event('CustomerCreated', { customer_id: randomUUID(), name: 'Ana' }),
    sale,
    () => sim.event('StockAdjusted', { product_id: products.at(-1)!, qty_delta: 5 }),
  ];
  return () => {
    if (n >= limit) return null;
    const e =
      n === 0
        ? sim.event('CashSessionOpened', { session_id: session, opening_amount: 50 })
        : plan[(n - 1) % plan.length]!();
    n++;
    return e;
  };
}
