/**
 * What the benchmarks push: a POS device's mix of events (about half SaleCreated with 1–3 lines,
 * voids, stock movements, debts and payments, product/customer/cash events, the documented
 * aliases), or a till's sales alone. Every event is built by test/support/events.ts's DeviceSim, the
 * one event builder the tests use too; this module only decides what a device sells and when.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hashPayload } from '../../domain/events/hash';
import { DeviceSim, type WireEvent } from '../../test/support/events';

/** mulberry32: a small seeded PRNG, so runs generate the same mix. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uuid-shaped md5 of a text: deterministic ids for generated logs. */
export function md5Uuid(text: string): string {
  const h = createHash('md5').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const round2 = (n: number): number => Math.round(n * 100) / 100;

export interface Product {
  id: string;
  price: number;
}

/** A store's catalog and customers, shared by its devices (created before the devices sell). */
export interface Store {
  id: string;
  products: Product[];
  customers: string[];
}

export function makeStore(id: string, rnd: () => number, products = 2000, customers = 300): Store {
  return {
    id,
    products: Array.from({ length: products }, () => ({ id: randomUUID(), price: round2(0.5 + rnd() * 60) })),
    customers: Array.from({ length: customers }, () => randomUUID()),
  };
}

export const START = Date.parse('2026-11-20T08:00:00.000Z');

type Made = [string, Record<string, unknown>];

/** One POS device: its DeviceSim (seq, vector clock, hybrid clock) and what it sells. */
export class PosDevice {
  readonly sim: DeviceSim;
  private readonly rnd: () => number;
  private readonly sales: string[] = [];
  private readonly debts: { id: string; amount: number }[] = [];
  private readonly ownProducts: string[] = [];
  private readonly ownCustomers: string[] = [];
  private readonly invoiceSeries = randomUUID();
  private fiscal = 0;
  private session: string | null = null;
  private pending: Made[] = [];
  /** created_at of the device's last event (debts fall due 30 days after it). */
  private lastAt = START;

  constructor(
    readonly store: Store,
    deviceId: string,
    seed: number,
    cashier: string,
    /** The products this device sells and counts (the store's catalog, or a slice of it). */
    private readonly catalog: Product[] = store.products,
  ) {
    this.sim = new DeviceSim(store.id, deviceId, START, cashier);
    this.rnd = prng(seed);
  }

  get deviceId(): string {
    return this.sim.deviceId;
  }

  private pick<T>(list: T[]): T {
    return list[Math.floor(this.rnd() * list.length)]!;
  }

  /** 80 % of sale lines come from the best-selling 10 % of the catalog. */
  private product(): Product {
    const all = this.catalog;
    const hot = Math.max(1, Math.floor(all.length / 10));
    return this.rnd() < 0.8
      ? all[Math.floor(this.rnd() * hot)]!
      : all[hot + Math.floor(this.rnd() * (all.length - hot))]!;
  }

  private make([type, payload]: Made): WireEvent {
    // The tills of one store work the same hours: event n of every device falls in the same 8 s slot
    // (with jitter), so concurrent pushes cover the same store-hour buckets, as they do in a shop.
    this.lastAt = START + (this.sim.seq + 1) * 8000 + Math.floor(this.rnd() * 7000);
    return this.sim.wire(type, payload, { at: this.lastAt });
  }

  private salePayload(aliasTotal = false): Made {
    const lines = 1 + Math.floor(this.rnd() * 3);
    const items = [];
    for (let i = 0; i < lines; i++) {
      const p = this.product();
      const qty = this.rnd() < 0.15 ? round2(0.25 + this.rnd() * 2) : 1 + Math.floor(this.rnd() * 3);
      items.push({ product_id: p.id, qty, unit_price: p.price, name: `Producto ${p.id.slice(0, 6)}` });
    }
    const total = round2(items.reduce((s, it) => s + it.qty * it.unit_price, 0));
    const saleId = randomUUID();
    this.sales.push(saleId);
    this.fiscal += 1;
    const payload: Record<string, unknown> = {
      sale_id: saleId,
      items,
      payment_method: this.rnd() < 0.6 ? 'cash' : 'card',
      session_id: this.session,
      customer_id: this.rnd() < 0.2 ? this.pick(this.store.customers) : null,
      invoice_series_id: this.invoiceSeries,
      fiscal_number: this.fiscal,
    };
    payload[aliasTotal ? 'total_amount' : 'total'] = total;
    return ['SaleCreated', payload];
  }

  private debt(alias = false): Made {
    const amount = round2(5 + this.rnd() * 200);
    const id = randomUUID();
    this.debts.push({ id, amount });
    const payload: Record<string, unknown> = {
      debt_id: id,
      customer_id: this.pick(this.store.customers),
      sale_id: this.sales.length > 0 && this.rnd() < 0.5 ? this.pick(this.sales) : null,
      due_date: new Date(this.lastAt + 30 * 86_400_000).toISOString().slice(0, 10),
    };
    if (alias) {
      payload.total_amount = amount;
      payload.note = 'fiado';
    } else {
      payload.amount = amount;
      payload.notes = 'fiado';
    }
    return ['DebtCreated', payload];
  }

  private payment(alias = false): Made {
    if (this.debts.length === 0) return this.debt(alias);
    const d = this.pick(this.debts);
    const payload: Record<string, unknown> = {
      payment_id: randomUUID(),
      debt_id: d.id,
      amount: round2(Math.max(0.01, d.amount * (0.2 + this.rnd() * 0.5))),
    };
    if (alias) {
      payload.method = 'transfer';
      payload.note = 'abono';
      return ['DebtPaymentAdded', payload];
    }
    payload.payment_method = 'cash';
    return ['DebtPaymentRecorded', payload];
  }

  private next(): Made {
    const queued = this.pending.shift();
    if (queued) return queued;
    if (!this.session) {
      this.session = randomUUID();
      return ['CashSessionOpened', { session_id: this.session, opening_amount: 100 }];
    }
    const r = this.rnd();
    if (r < 0.5) return this.salePayload();
    if (r < 0.6) {
      if (this.sales.length === 0) return this.salePayload();
      return ['SaleVoided', { sale_id: this.pick(this.sales), reason: 'cliente desistió' }];
    }
    if (r < 0.75) {
      const p = this.product();
      if (r < 0.66)
        return [
          'StockReceived',
          {
            product_id: p.id,
            qty: 6 + Math.floor(this.rnd() * 48),
            unit_cost: round2(p.price * 0.6),
            reason: 'proveedor',
          },
        ];
      if (r < 0.71)
        return [
          'StockAdjusted',
          { product_id: p.id, qty_delta: -1 - Math.floor(this.rnd() * 3), reason: 'merma' },
        ];
      return [
        'StockDeltaApplied',
        { product_id: p.id, qty_delta: 1 + Math.floor(this.rnd() * 5), reason: 'conteo' },
      ];
    }
    if (r < 0.85) return r < 0.8 ? this.debt() : this.payment();
    if (r < 0.9) {
      if (r < 0.865 || this.ownProducts.length === 0) {
        const id = randomUUID();
        this.ownProducts.push(id);
        return [
          'ProductCreated',
          {
            product_id: id,
            name: `Nuevo ${id.slice(0, 8)}`,
            sku: `SKU-${id.slice(0, 8)}`,
            price: round2(1 + this.rnd() * 50),
            cost: round2(0.5 + this.rnd() * 25),
            category: 'abarrotes',
            unit: 'unidad',
          },
        ];
      }
      if (r < 0.88)
        return [
          'ProductUpdated',
          { product_id: this.pick(this.ownProducts), price: round2(1 + this.rnd() * 50) },
        ];
      if (r < 0.89 || this.ownCustomers.length === 0) {
        const id = randomUUID();
        this.ownCustomers.push(id);
        return [
          'CustomerCreated',
          { customer_id: id, name: `Cliente ${id.slice(0, 6)}`, phone: '+51 999 000 000', credit_limit: 300 },
        ];
      }
      return ['CustomerUpdated', { customer_id: this.pick(this.ownCustomers), phone: '+51 988 111 222' }];
    }
    if (r < 0.95) {
      if (r < 0.94) {
        return [
          'CashLedgerEntryCreated',
          {
            entry_id: randomUUID(),
            session_id: this.session,
            kind: this.rnd() < 0.5 ? 'in' : 'out',
            amount: round2(1 + this.rnd() * 80),
            reason: 'caja chica',
          },
        ];
      }
      // Close the session; the next event opens a new one.
      const closing = {
        session_id: this.session,
        closing_amount: round2(100 + this.rnd() * 900),
        notes: 'cierre de turno',
      };
      this.session = randomUUID();
      this.pending.push(['CashSessionOpened', { session_id: this.session, opening_amount: 100 }]);
      return ['CashSessionClosed', closing];
    }
    // Other: the documented aliases (total_amount, method/note, DebtPaymentAdded).
    if (r < 0.965) return this.salePayload(true);
    if (r < 0.98) return this.debt(true);
    return this.payment(true);
  }

  /** The next event of the POS mix. */
  event(): WireEvent {
    return this.make(this.next());
  }

  /** A till's next sale: one SaleCreated of 1–3 lines. */
  sale(): WireEvent {
    return this.make(this.salePayload());
  }
}

/** Which events a device makes: the POS mix, or a till's sales alone. */
export type Mix = 'pos' | 'sales';

/** One request: its serialised body and the rows the baseline inserts for the same events. */
export interface Batch {
  body: Buffer;
  events: WireEvent[];
  rows: unknown[][];
  types: Record<string, number>;
}

export function makeBatch(device: PosDevice, size: number, mix: Mix, originNode: string): Batch {
  const events: WireEvent[] = [];
  const types: Record<string, number> = {};
  for (let i = 0; i < size; i++) {
    const e = mix === 'sales' ? device.sale() : device.event();
    events.push(e);
    types[e.type] = (types[e.type] ?? 0) + 1;
  }
  const body = Buffer.from(JSON.stringify({ store_id: device.store.id, device_id: device.deviceId, events }));
  return { body, events, rows: events.map((e) => eventRow(e, originNode)), types };
}

export interface GenerateOptions {
  mix: Mix;
  /** origin_node of the rows the baseline writes (the node's id). */
  originNode: string;
  /** Every that many pushes each device observes the clocks of its store's other devices (0: never). */
  observeEvery?: number;
}

/**
 * `count` batches per device, round-robin. Now and then (every 5 pushes by default) each device
 * observes the clocks of the other devices of its store (they pull), so vector clocks carry every
 * till of the store.
 */
export function generate(
  devices: PosDevice[],
  count: number,
  size: number,
  { mix, originNode, observeEvery = 5 }: GenerateOptions,
): Batch[][] {
  const perDevice: Batch[][] = devices.map(() => []);
  const byStore = new Map<string, PosDevice[]>();
  for (const d of devices) byStore.set(d.store.id, [...(byStore.get(d.store.id) ?? []), d]);
  for (let b = 0; b < count; b++) {
    if (observeEvery > 0 && b % observeEvery === 0) {
      for (const group of byStore.values()) {
        const seen = Object.fromEntries(group.map((d) => [d.deviceId, d.sim.seq]));
        for (const d of group) d.sim.observe(seen);
      }
    }
    devices.forEach((d, i) => perDevice[i]!.push(makeBatch(d, size, mix, originNode)));
  }
  return perDevice;
}

// ---------------------------------------------------------------------------------------------
// Event rows written straight into a table shaped like `events` (the raw baselines, generated logs)

const ROW_COLUMNS =
  'event_id, store_id, device_id, seq, type, vector_clock, payload, full_payload_hash, delta_payload, created_at, ' +
  'hlc, origin_node, actor_user_id, source, source_peer, projection_status, projection_attempts';
const PARAMS_PER_ROW = 13;
/** PostgreSQL takes at most 65,535 parameters per statement. */
export const MAX_ROWS_PER_INSERT = Math.floor(65_535 / PARAMS_PER_ROW);

/** The row the node stores for an event (constants source/peer/status/attempts are inlined in the SQL). */
export function eventRow(e: WireEvent, originNode: string): unknown[] {
  return [
    e.event_id,
    e.store_id,
    e.device_id,
    e.seq,
    e.type,
    JSON.stringify(e.vector_clock),
    JSON.stringify(e.payload),
    hashPayload(e.payload),
    null,
    e.created_at,
    // A device's stamp is its created_at unless that runs ahead of the node's clock (domain/crdt/hlc.ts).
    e.created_at,
    originNode,
    e.actor_user_id,
  ];
}

/** `INSERT INTO table (…) VALUES (…), …` for `rows` rows: a single-row INSERT when rows is 1. */
export function insertRowsSql(table: string, rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = Array.from({ length: PARAMS_PER_ROW }, (_, i) => `$${r * PARAMS_PER_ROW + i + 1}`);
    values.push(`(${p.join(', ')}, 'device', NULL, 'processed', 1)`);
  }
  return `INSERT INTO ${table} (${ROW_COLUMNS}) VALUES ${values.join(', ')}`;
}
