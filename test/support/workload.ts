import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { SyncEvent } from '../../domain/events/schemas';
import { DeviceSim } from './events';
import { uid } from './projections';

// Random POS workloads for the convergence properties: commands of a few devices of one or two
// stores (sales, voids, debts and payments, product/customer edits, stock, cash sessions, devices
// syncing with each other, time passing) and their deterministic compilation into events. Used by
// the single-database convergence test (test/integration/projections/convergence.test.ts) and the
// two-node partition test (test/integration/federation/partition.test.ts).

export const BASE_TIME = Date.parse('2026-11-20T09:00:00.000Z');
export const MINUTE = 60_000;

// Entity namespaces (first group of the uuid) keep ids readable: 00000003-…-0000000003e9 is sale 1 of store 1.
export const NS = {
  product: 1,
  customer: 2,
  sale: 3,
  debt: 4,
  payment: 5,
  session: 6,
  entry: 7,
  warehouse: 8,
  store: 9,
};
export type EntityNs = keyof typeof NS;

export type Line = [product: number, qty: number, unitPrice: number];
/** 0: warehouse omitted (the store's own), 1: the store id written out, 2: a second warehouse. */
export type Wh = 0 | 1 | 2;

export type Command = { store: number; dev: number } & (
  | { op: 'product'; create: boolean; product: number; fields: Record<string, unknown> }
  | { op: 'customer'; create: boolean; customer: number; fields: Record<string, unknown> }
  | { op: 'sale'; sale: number; lines: Line[]; wh: Wh; total: boolean }
  | { op: 'void'; sale: number; voidedMinutesAgo: number | null }
  | { op: 'debt'; debt: number; amount: number; alias: boolean }
  | { op: 'payment'; payment: number; debt: number; amount: number; alias: boolean }
  | { op: 'open'; session: number; amount: number }
  | { op: 'close'; session: number; amount: number }
  | { op: 'ledger'; entry: number; session: number | null; kind: 'in' | 'out'; amount: number }
  | {
      op: 'stock';
      kind: 'StockReceived' | 'StockAdjusted' | 'StockDeltaApplied';
      product: number;
      qty: number;
      wh: Wh;
    }
  | { op: 'sync'; from: number }
  | { op: 'pause'; minutes: number }
);

/** Commands of one or two stores; a store's devices issue them in this order. */
export type Workload = Command[];

/** Commands that make an event (sync and pause only move a device's clocks). */
export type EventCommand = Exclude<Command, { op: 'sync' | 'pause' }>;

// ---------------------------------------------------------------------------------------------
// Arbitraries

const cents = fc.integer({ min: 1, max: 50_000 }).map((c) => c / 100);
const thousandths = (min: number, max: number) => fc.integer({ min, max }).map((q) => q / 1000);
const wh = fc.constantFrom<Wh>(0, 1, 2);

const productFields = fc.record(
  {
    name: fc.constantFrom('Coffee', 'Tea', 'Bread', 'Milk'),
    price: cents,
    sku: fc.option(fc.constantFrom('A-1', 'B-2'), { nil: null }),
    category: fc.constantFrom('drinks', 'bakery'),
    active: fc.boolean(),
  },
  { requiredKeys: [] },
);
const customerFields = fc.record(
  {
    name: fc.constantFrom('Ana', 'Bruno', 'Carla'),
    phone: fc.option(fc.constantFrom('555-1', '555-2'), { nil: null }),
    credit_limit: cents,
    active: fc.boolean(),
  },
  { requiredKeys: [] },
);

export interface WorkloadShape {
  /** Stores the commands are spread over (numbered from 0). */
  stores: number;
  /** Devices per store (numbered from 0). */
  devices: number;
  maxCommands: number;
  /** How far towards maxCommands lengths go (fast-check's size; default 'large'). */
  size?: fc.SizeForArbitrary;
}

export function commandArb({
  stores,
  devices,
}: Pick<WorkloadShape, 'stores' | 'devices'>): fc.Arbitrary<Command> {
  const who = { store: fc.nat({ max: stores - 1 }), dev: fc.nat({ max: devices - 1 }) };
  const cmd = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
    fc.record({ ...who, ...fields });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: cmd({
        op: fc.constant('product'),
        create: fc.boolean(),
        product: fc.nat({ max: 3 }),
        fields: productFields,
      }),
    },
    {
      weight: 2,
      arbitrary: cmd({
        op: fc.constant('customer'),
        create: fc.boolean(),
        customer: fc.nat({ max: 2 }),
        fields: customerFields,
      }),
    },
    {
      weight: 5,
      arbitrary: cmd({
        op: fc.constant('sale'),
        sale: fc.nat({ max: 11 }),
        lines: fc.array(fc.tuple(fc.nat({ max: 3 }), thousandths(1, 5000), cents), {
          minLength: 1,
          maxLength: 3,
        }),
        wh,
        total: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: cmd({
        op: fc.constant('void'),
        sale: fc.nat({ max: 11 }),
        voidedMinutesAgo: fc.option(fc.nat({ max: 90 }), { nil: null }),
      }),
    },
    {
      weight: 2,
      arbitrary: cmd({
        op: fc.constant('debt'),
        debt: fc.nat({ max: 5 }),
        amount: cents,
        alias: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: cmd({
        op: fc.constant('payment'),
        payment: fc.nat({ max: 9 }),
        debt: fc.nat({ max: 5 }),
        amount: cents,
        alias: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: cmd({ op: fc.constant('open'), session: fc.nat({ max: 2 }), amount: cents }) },
    { weight: 1, arbitrary: cmd({ op: fc.constant('close'), session: fc.nat({ max: 2 }), amount: cents }) },
    {
      weight: 2,
      arbitrary: cmd({
        op: fc.constant('ledger'),
        entry: fc.nat({ max: 7 }),
        session: fc.option(fc.nat({ max: 2 }), { nil: null }),
        kind: fc.constantFrom<'in' | 'out'>('in', 'out'),
        amount: cents,
      }),
    },
    {
      weight: 4,
      arbitrary: cmd({
        op: fc.constant('stock'),
        kind: fc.constantFrom<'StockReceived' | 'StockAdjusted' | 'StockDeltaApplied'>(
          'StockReceived',
          'StockAdjusted',
          'StockDeltaApplied',
        ),
        product: fc.nat({ max: 3 }),
        qty: thousandths(-20_000, 20_000),
        wh,
      }),
    },
    { weight: 2, arbitrary: cmd({ op: fc.constant('sync'), from: fc.nat({ max: devices - 1 }) }) },
    { weight: 1, arbitrary: cmd({ op: fc.constant('pause'), minutes: fc.integer({ min: 1, max: 180 }) }) },
  ) as fc.Arbitrary<Command>;
}

export function workloadArb(shape: WorkloadShape): fc.Arbitrary<Workload> {
  return fc.array(commandArb(shape), {
    minLength: 1,
    maxLength: shape.maxCommands,
    size: shape.size ?? 'large',
  });
}

// ---------------------------------------------------------------------------------------------
// Commands → events (deterministic: the same workload and naming always build the same events)

/**
 * How a workload's numbers become ids. The default gives readable fixed ids (one database per
 * property run); a run that shares its databases with earlier runs needs ids of its own.
 */
export interface Naming {
  storeId(store: number): string;
  deviceId(store: number, dev: number): string;
  entityId(ns: EntityNs, store: number, n: number): string;
  /** The id of the n-th event of the workload. */
  eventId(n: number): string;
}

export const defaultNaming: Naming = {
  storeId: (s) => uid(NS.store, s),
  deviceId: (store, dev) => `s${store}-d${dev}`,
  entityId: (ns, store, n) => uid(NS[ns], store * 1000 + n),
  // Event ids in no particular relation to generation order (tie-breaks pick the smallest), yet
  // deterministic and readable: hash prefix, then the event's position in the workload.
  eventId: (n) =>
    `${createHash('sha256').update(String(n)).digest('hex').slice(0, 8)}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
};

/**
 * Ids unique to one run, still readable: the run's tag in the first group (entities) or the third
 * and fourth (events), the entity namespace and number as in the default naming.
 */
export function runNaming(
  run: number,
  stores: string[],
  deviceId: (store: number, dev: number) => string,
): Naming {
  const tag = (run & 0xffff).toString(16).padStart(4, '0');
  return {
    storeId: (s) => stores[s]!,
    deviceId,
    entityId: (ns, store, n) =>
      `${NS[ns].toString(16).padStart(4, '0')}${tag}-0000-4000-8000-${(store * 1000 + n).toString(16).padStart(12, '0')}`,
    eventId: (n) =>
      `${createHash('sha256').update(`${run}:${n}`).digest('hex').slice(0, 8)}-${tag}-4000-8000-${n.toString(16).padStart(12, '0')}`,
  };
}

/** One compiled event with the command that made it. */
export interface CompiledEvent {
  event: SyncEvent;
  command: EventCommand;
}

/** The workload's events, in command order, each with its command (store and device). */
export function compileWorkload(w: Workload, naming: Naming = defaultNaming): CompiledEvent[] {
  // lastAt: the device's last event; knownAt: the latest time it has seen, its own or learned by a
  // sync (transitively, as a hybrid clock carries it: d1 pulls d2, d0 pulls d1, d0 is past d2's time).
  const devices = new Map<string, { sim: DeviceSim; lastAt: number; knownAt: number; nextAt: number }>();
  const device = (store: number, dev: number) => {
    const key = `s${store}-d${dev}`;
    let d = devices.get(key);
    if (!d)
      devices.set(
        key,
        (d = {
          sim: new DeviceSim(naming.storeId(store), naming.deviceId(store, dev), BASE_TIME),
          lastAt: BASE_TIME,
          knownAt: BASE_TIME,
          nextAt: 0,
        }),
      );
    return d;
  };
  const out: CompiledEvent[] = [];
  for (const c of w) {
    const d = device(c.store, c.dev);
    if (c.op === 'sync') {
      // A pull: the device learns the other's clock, and its hybrid clock moves past the other's time.
      const from = device(c.store, c.from);
      d.sim.observe(from.sim.clock);
      d.knownAt = Math.max(d.knownAt, from.knownAt);
      d.nextAt = Math.max(d.nextAt, from.knownAt + 1);
      continue;
    }
    if (c.op === 'pause') {
      d.nextAt = Math.max(d.nextAt, d.lastAt + c.minutes * MINUTE);
      continue;
    }
    const e = eventOf(c, d.sim, d.nextAt, naming);
    e.event_id = naming.eventId(out.length);
    d.lastAt = Date.parse(e.created_at);
    d.knownAt = Math.max(d.knownAt, d.lastAt);
    out.push({ event: e, command: c });
  }
  return out;
}

export function buildEvents(w: Workload, naming: Naming = defaultNaming): SyncEvent[] {
  return compileWorkload(w, naming).map((c) => c.event);
}

function warehouse(store: number, w: Wh, naming: Naming): { warehouse_id?: string } {
  if (w === 0) return {};
  return { warehouse_id: w === 1 ? naming.storeId(store) : naming.entityId('warehouse', store, 1) };
}

function eventOf(c: EventCommand, sim: DeviceSim, at: number, naming: Naming): SyncEvent {
  const s = c.store;
  const idOf = (ns: EntityNs, n: number) => naming.entityId(ns, s, n);
  const opts = { at };
  switch (c.op) {
    case 'product':
      return c.create
        ? sim.event(
            'ProductCreated',
            { name: 'New', price: 1, ...c.fields, product_id: idOf('product', c.product) },
            opts,
          )
        : sim.event('ProductUpdated', { ...c.fields, product_id: idOf('product', c.product) }, opts);
    case 'customer':
      return c.create
        ? sim.event(
            'CustomerCreated',
            { name: 'New', ...c.fields, customer_id: idOf('customer', c.customer) },
            opts,
          )
        : sim.event('CustomerUpdated', { ...c.fields, customer_id: idOf('customer', c.customer) }, opts);
    case 'sale': {
      const items = c.lines.map(([p, qty, unit_price]) => ({
        product_id: idOf('product', p),
        qty,
        unit_price,
      }));
      const total = Math.round(items.reduce((t, i) => t + i.qty * i.unit_price, 0) * 100) / 100;
      return sim.event(
        'SaleCreated',
        {
          sale_id: idOf('sale', c.sale),
          items,
          ...warehouse(s, c.wh, naming),
          ...(c.total ? { total } : {}),
        },
        opts,
      );
    }
    case 'void': {
      const e = sim.event('SaleVoided', { sale_id: idOf('sale', c.sale), reason: 'void' }, opts);
      if (c.voidedMinutesAgo !== null) {
        (e.payload as { voided_at?: string }).voided_at = new Date(
          Date.parse(e.created_at) - c.voidedMinutesAgo * MINUTE,
        ).toISOString();
      }
      return e;
    }
    case 'debt':
      return sim.event(
        'DebtCreated',
        {
          debt_id: idOf('debt', c.debt),
          ...(c.alias ? { total_amount: c.amount, note: 'n' } : { amount: c.amount, notes: 'n' }),
        },
        opts,
      );
    case 'payment':
      return sim.event(
        c.alias ? 'DebtPaymentAdded' : 'DebtPaymentRecorded',
        {
          payment_id: idOf('payment', c.payment),
          debt_id: idOf('debt', c.debt),
          amount: c.amount,
          ...(c.alias ? { method: 'card' } : { payment_method: 'cash' }),
        },
        opts,
      );
    case 'open':
      return sim.event(
        'CashSessionOpened',
        { session_id: idOf('session', c.session), opening_amount: c.amount },
        opts,
      );
    case 'close':
      return sim.event(
        'CashSessionClosed',
        { session_id: idOf('session', c.session), closing_amount: c.amount },
        opts,
      );
    case 'ledger':
      return sim.event(
        'CashLedgerEntryCreated',
        {
          entry_id: idOf('entry', c.entry),
          session_id: c.session === null ? null : idOf('session', c.session),
          kind: c.kind,
          amount: c.amount,
        },
        opts,
      );
    case 'stock': {
      const where = { product_id: idOf('product', c.product), ...warehouse(s, c.wh, naming) };
      return c.kind === 'StockReceived'
        ? sim.event('StockReceived', { ...where, qty: Math.abs(c.qty) || 1 }, opts)
        : sim.event(c.kind, { ...where, qty_delta: c.qty }, opts);
    }
  }
}

/** The commands, numbered by the event they make (sync and pause make none). */
export function describeWorkload(w: Workload): { lines: string[]; events: number } {
  let n = 0;
  const lines = w.map((c) => {
    const { store, dev, op, ...rest } = c;
    const label = op === 'sync' || op === 'pause' ? '   ' : `#${n++}`.padEnd(3);
    return `  ${label} s${store}/d${dev} ${op} ${JSON.stringify(rest)}`;
  });
  return { lines, events: n };
}

// ---------------------------------------------------------------------------------------------
// What the rules say the read models hold, computed from the events alone

/** Expected stock per (store, warehouse, product), straight from the events' rules. */
export function expectedStock(events: SyncEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (store: string, wh: string | undefined, product: string, qty: number) => {
    const key = `${store}|${wh ?? store}|${product}`;
    out.set(key, (out.get(key) ?? 0) + qty);
  };
  const sales = new Map<string, SyncEvent>();
  const voided = new Set<string>();
  for (const e of events) {
    const p = e.payload as Record<string, unknown>;
    if (e.type === 'StockReceived')
      add(e.store_id, p.warehouse_id as string, p.product_id as string, p.qty as number);
    if (e.type === 'StockAdjusted' || e.type === 'StockDeltaApplied')
      add(e.store_id, p.warehouse_id as string, p.product_id as string, p.qty_delta as number);
    if (e.type === 'SaleVoided') voided.add(p.sale_id as string);
    if (e.type === 'SaleCreated') {
      // Add-wins with a tie-break: of two events claiming one sale id, the smaller event id holds it.
      const held = sales.get(p.sale_id as string);
      if (!held || e.event_id < held.event_id) sales.set(p.sale_id as string, e);
    }
  }
  for (const [saleId, e] of sales) {
    const p = e.payload as { warehouse_id?: string; items: { product_id: string; qty: number }[] };
    for (const item of p.items) {
      add(e.store_id, p.warehouse_id, item.product_id, voided.has(saleId) ? 0 : -item.qty);
    }
  }
  return new Map([...out].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}

/** Expected remaining amount per debt: the holding DebtCreated's total minus its holding payments. */
export function expectedDebts(events: SyncEvent[]): Map<string, number> {
  const debts = new Map<string, SyncEvent>();
  const payments = new Map<string, SyncEvent>();
  for (const e of events) {
    const p = e.payload as Record<string, unknown>;
    const slot = e.type === 'DebtCreated' ? debts : e.type.startsWith('DebtPayment') ? payments : null;
    const key = (e.type === 'DebtCreated' ? p.debt_id : p.payment_id) as string;
    if (!slot) continue;
    const held = slot.get(key);
    if (!held || e.event_id < held.event_id) slot.set(key, e);
  }
  const out = new Map<string, number>();
  for (const [id, e] of debts) {
    const p = e.payload as { amount?: number; total_amount?: number };
    out.set(id, (p.total_amount ?? p.amount)! * 100);
  }
  for (const e of payments.values()) {
    const p = e.payload as { debt_id: string; amount: number };
    if (out.has(p.debt_id)) out.set(p.debt_id, out.get(p.debt_id)! - p.amount * 100);
  }
  return new Map([...out].map(([k, v]) => [k, Math.round(v) / 100]));
}

/** The sale ids some SaleVoided names: exactly the sales that must end up voided. */
export function voidedSaleIds(events: SyncEvent[]): Set<string> {
  return new Set(
    events.filter((e) => e.type === 'SaleVoided').map((e) => (e.payload as { sale_id: string }).sale_id),
  );
}
