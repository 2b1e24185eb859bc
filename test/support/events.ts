import { randomUUID } from 'node:crypto';
import type { EventType, PayloadOf, SyncEvent } from '../../domain/events/schemas';

/**
 * Builds valid events for one device, with its seq and vector clock advancing like a real PWA. The
 * one event builder of the repository: the tests, the convergence workloads (workload.ts) and the
 * benchmarks' POS mix (bench/lib/workload.ts) all make their events here.
 */
export class DeviceSim {
  seq = 0;
  clock: Record<string, number> = {};
  /** Logical milliseconds: created_at never goes backwards on one device (its hybrid clock). */
  private now: number;

  constructor(
    readonly storeId: string,
    readonly deviceId: string = randomUUID(),
    start = Date.parse('2026-11-20T12:00:00.000Z'),
    readonly actorUserId = 'cashier-1',
  ) {
    this.now = start;
  }

  /** Merges what this device has seen from others (it pulled their events). */
  observe(clock: Record<string, number>): void {
    for (const [k, v] of Object.entries(clock)) this.clock[k] = Math.max(this.clock[k] ?? 0, v);
  }

  event<T extends EventType>(type: T, payload: PayloadOf<T>, opts: { at?: number } = {}): SyncEvent {
    return this.wire(type, payload as Record<string, unknown>, opts) as SyncEvent;
  }

  /**
   * The same envelope for a payload as a device sends it (documented aliases such as `total_amount`
   * or `method`, which the parsed payload types do not spell): what the benchmarks push.
   */
  wire(type: string, payload: Record<string, unknown>, opts: { at?: number } = {}): WireEvent {
    this.seq += 1;
    this.clock = { ...this.clock, [this.deviceId]: this.seq };
    this.now = Math.max(this.now + 1000, opts.at ?? 0);
    return {
      event_id: randomUUID(),
      store_id: this.storeId,
      device_id: this.deviceId,
      seq: this.seq,
      type,
      vector_clock: { ...this.clock },
      payload,
      created_at: new Date(this.now).toISOString(),
      actor_user_id: this.actorUserId,
    };
  }
}

/** An event as pushed over the wire, before the node parses it. */
export interface WireEvent {
  event_id: string;
  store_id: string;
  device_id: string;
  seq: number;
  type: string;
  vector_clock: Record<string, number>;
  payload: Record<string, unknown>;
  created_at: string;
  actor_user_id: string;
}

/**
 * Two cash sessions, a sale in each and a void of each sale, committed in the worst order — voids,
 * then sales, then sessions — with ids that sort the same wrong way. Returns them in that order and
 * in causal relay order (by priority, then commit order), which is what a peer must replay. (The
 * relay's priorities: domain/relay/priority.ts.)
 */
export function worstCausalOrder(storeId: string): { committed: SyncEvent[]; causal: SyncEvent[] } {
  const sim = new DeviceSim(storeId);
  const withIdFrom = (digit: string, e: SyncEvent): SyncEvent => ({
    ...e,
    event_id: `${digit}${randomUUID().slice(1)}`,
  });
  const sessions = [randomUUID(), randomUUID()];
  const sales = [randomUUID(), randomUUID()];
  // Built in that same worst order, so created_at sorts the wrong way too.
  const voided = sales.map((sale_id, i) =>
    withIdFrom(`${i}`, sim.event('SaleVoided', { sale_id, reason: 'wrong item' })),
  );
  const sold = sales.map((sale_id, i) =>
    withIdFrom(
      `${4 + i}`,
      sim.event('SaleCreated', {
        sale_id,
        session_id: sessions[i],
        items: [{ product_id: randomUUID(), qty: 1, unit_price: 4 }],
      }),
    ),
  );
  const opened = sessions.map((session_id, i) =>
    withIdFrom(`${8 + i}`, sim.event('CashSessionOpened', { session_id, opening_amount: 50 })),
  );
  return { committed: [...voided, ...sold, ...opened], causal: [...opened, ...sold, ...voided] };
}
