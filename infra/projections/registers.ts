import { applyWrite, stampEventId, stampOf } from '../../domain/crdt/lww';
import { compareClocks, type VectorClock } from '../../domain/crdt/vector-clock';
import type { EventType } from '../../domain/events/schemas';
import { cashSessions } from '../repositories/cash-sessions';
import { CUSTOMER_COLUMNS, customers } from '../repositories/customers';
import { clocksOf } from '../repositories/events';
import { PRODUCT_COLUMNS, products } from '../repositories/products';
import { keyText, uniqueKeys } from '../repositories/recordset';
import {
  readRegisters,
  writeRegisters,
  type RegisterRow,
  type RegisterTable,
} from '../repositories/register-table';
import { lockEntities, ofType, type ProjectionEvent, type ProjectionSink, type Trx } from './types';

/** A table whose rows are per-field last-writer-wins registers. */
interface RegisterSpec<T extends EventType> {
  repo: RegisterTable;
  entityType: string;
  types: T[];
  idOf(e: ProjectionEvent<T>): string;
  /** The fields this event writes (undefined = not written). */
  fieldsOf(e: ProjectionEvent<T>): Record<string, unknown>;
}

const pick = (p: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));

// The fields an event may write are the table's value columns.
const PRODUCT_FIELDS = Object.keys(PRODUCT_COLUMNS);
const CUSTOMER_FIELDS = Object.keys(CUSTOMER_COLUMNS);

const productSpec: RegisterSpec<'ProductCreated' | 'ProductUpdated'> = {
  repo: products,
  entityType: 'product',
  types: ['ProductCreated', 'ProductUpdated'],
  idOf: (e) => e.payload.product_id,
  fieldsOf: (e) => {
    const fields = pick(e.payload, PRODUCT_FIELDS);
    if (e.type === 'ProductCreated') {
      fields.track_inventory ??= true;
      fields.active ??= true;
    }
    return fields;
  },
};

const customerSpec: RegisterSpec<'CustomerCreated' | 'CustomerUpdated'> = {
  repo: customers,
  entityType: 'customer',
  types: ['CustomerCreated', 'CustomerUpdated'],
  idOf: (e) => e.payload.customer_id,
  fieldsOf: (e) => {
    const fields = pick(e.payload, CUSTOMER_FIELDS);
    if (e.type === 'CustomerCreated') fields.active ??= true;
    return fields;
  },
};

const cashSessionSpec: RegisterSpec<'CashSessionOpened' | 'CashSessionClosed'> = {
  repo: cashSessions,
  entityType: 'cash_session',
  types: ['CashSessionOpened', 'CashSessionClosed'],
  idOf: (e) => e.payload.session_id,
  fieldsOf: (e) => {
    if (e.type === 'CashSessionOpened') {
      const p = (e as ProjectionEvent<'CashSessionOpened'>).payload;
      return {
        device_id: e.device_id,
        opened_at: p.opened_at ?? e.created_at.toISOString(),
        opened_by: e.actor_user_id,
        opening_amount: p.opening_amount,
      };
    }
    const p = (e as ProjectionEvent<'CashSessionClosed'>).payload;
    return {
      closed_at: p.closed_at ?? e.created_at.toISOString(),
      closed_by: e.actor_user_id,
      closing_amount: p.closing_amount,
      expected_amount: p.expected_amount ?? null,
      notes: p.notes ?? null,
    };
  },
};

export const REGISTER_TABLES = [productSpec, customerSpec, cashSessionSpec] as const;

/**
 * Merges every register write of the batch — products, customers and cash sessions together — in four
 * statements whatever the batch: lock the entities, read their rows, read the clocks of the writes
 * they hold, write the merged rows back. Every row is addressed by (store, id).
 */
export async function projectRegisters(
  trx: Trx,
  all: ProjectionEvent[],
  sink: ProjectionSink,
): Promise<void> {
  const work = REGISTER_TABLES.map((s) => {
    const spec = s as unknown as RegisterSpec<EventType>;
    const events = ofType(all, ...spec.types);
    return {
      spec,
      events,
      keys: uniqueKeys(events.map((e) => ({ store_id: e.store_id, id: spec.idOf(e) }))),
    };
  }).filter((w) => w.events.length > 0);
  if (work.length === 0) return;

  // Serialise merges of the same entity across concurrent requests, in one fixed order (no deadlocks),
  // including entities that have no row yet. Reading comes after, in a statement of its own, so its
  // snapshot sees whatever the previous lock holder committed.
  const locks = work.flatMap((w) => w.keys.map((k) => `${w.spec.repo.table}:${keyText(k)}`)).sort();
  await lockEntities(trx, 'register', locks);
  const rowsByTable = await readRegisters(
    trx,
    work.map((w) => ({ spec: w.spec.repo, keys: w.keys })),
  );

  // Clocks of the writes we meet, to tell concurrent writes (audited) from causally ordered ones.
  const clocks = new Map<string, VectorClock>(all.map((e) => [e.event_id.toLowerCase(), e.vector_clock]));
  const unknown = new Map<string, string>();
  for (const rows of rowsByTable.values()) {
    for (const r of rows.values()) {
      for (const s of Object.values(r.stamps)) {
        if (!clocks.has(stampEventId(s))) unknown.set(stampEventId(s), r.store_id);
      }
    }
  }
  for (const [eventId, clock] of await clocksOf(
    trx,
    [...unknown].map(([event_id, store_id]) => ({ store_id, event_id })),
  )) {
    clocks.set(eventId, clock);
  }

  await writeRegisters(
    trx,
    work.map((w) => {
      const rows = rowsByTable.get(w.spec.repo.table)!;
      mergeWrites(w.spec, w.events, rows, clocks, sink);
      return { spec: w.spec.repo, rows: w.keys.map((k) => rows.get(keyText(k))!) };
    }),
  );
}

/** Applies each event's field writes to its entity's registers and records concurrent writes met. */
function mergeWrites(
  spec: RegisterSpec<EventType>,
  events: ProjectionEvent[],
  rows: Map<string, RegisterRow>,
  clocks: Map<string, VectorClock>,
  sink: ProjectionSink,
): void {
  for (const e of events) {
    const id = spec.idOf(e);
    const key = keyText({ store_id: e.store_id, id });
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { store_id: e.store_id, id, values: {}, stamps: {} }));
    const stamp = stampOf(e);
    const met = new Map<string, { fields: string[]; won: boolean }>();
    for (const o of applyWrite(row, spec.fieldsOf(e), stamp)) {
      if (o.previous === undefined || o.previous === stamp) continue;
      const other = stampEventId(o.previous);
      const entry = met.get(other) ?? { fields: [], won: o.won };
      entry.fields.push(o.field);
      met.set(other, entry);
    }
    for (const [otherId, m] of met) {
      const otherClock = clocks.get(otherId);
      if (!otherClock || compareClocks(e.vector_clock, otherClock) !== 'concurrent') continue;
      sink.conflicts.push({
        store_id: e.store_id,
        entity_type: spec.entityType,
        entity_id: id,
        fields: m.fields,
        strategy: 'lww',
        winner_event_id: m.won ? e.event_id : otherId,
        loser_event_id: m.won ? otherId : e.event_id,
      });
    }
  }
}
