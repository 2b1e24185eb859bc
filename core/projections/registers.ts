import { sql } from 'kysely';
import { applyWrite, stampEventId, stampOf, type LwwState } from '../crdt/lww';
import { compareClocks, type VectorClock } from '../crdt/vector-clock';
import type { EventType } from '../events/schemas';
import { ofType, type ProjectionEvent, type ProjectionSink, type Trx } from './types';

/** A table whose rows are per-field last-writer-wins registers. */
interface RegisterTable<T extends EventType> {
  table: 'products' | 'customers' | 'cash_sessions';
  entityType: string;
  types: T[];
  idOf(e: ProjectionEvent<T>): string;
  /** The fields this event writes (undefined = not written). */
  fieldsOf(e: ProjectionEvent<T>): Record<string, unknown>;
  /** Columns and their SQL types, in the order used by jsonb_to_recordset. */
  columns: Record<string, string>;
}

const pick = (p: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));

const PRODUCT_FIELDS = [
  'name',
  'sku',
  'barcode',
  'price',
  'cost',
  'category',
  'unit',
  'track_inventory',
  'active',
];
const CUSTOMER_FIELDS = [
  'name',
  'document_id',
  'phone',
  'email',
  'address',
  'credit_limit',
  'notes',
  'active',
];

const products: RegisterTable<'ProductCreated' | 'ProductUpdated'> = {
  table: 'products',
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
  columns: {
    name: 'text',
    sku: 'text',
    barcode: 'text',
    price: 'numeric',
    cost: 'numeric',
    category: 'text',
    unit: 'text',
    track_inventory: 'boolean',
    active: 'boolean',
  },
};

const customers: RegisterTable<'CustomerCreated' | 'CustomerUpdated'> = {
  table: 'customers',
  entityType: 'customer',
  types: ['CustomerCreated', 'CustomerUpdated'],
  idOf: (e) => e.payload.customer_id,
  fieldsOf: (e) => {
    const fields = pick(e.payload, CUSTOMER_FIELDS);
    if (e.type === 'CustomerCreated') fields.active ??= true;
    return fields;
  },
  columns: {
    name: 'text',
    document_id: 'text',
    phone: 'text',
    email: 'text',
    address: 'text',
    credit_limit: 'numeric',
    notes: 'text',
    active: 'boolean',
  },
};

const cashSessions: RegisterTable<'CashSessionOpened' | 'CashSessionClosed'> = {
  table: 'cash_sessions',
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
  columns: {
    device_id: 'text',
    opened_at: 'timestamptz',
    opened_by: 'text',
    opening_amount: 'numeric',
    closed_at: 'timestamptz',
    closed_by: 'text',
    closing_amount: 'numeric',
    expected_amount: 'numeric',
    notes: 'text',
  },
};

export const REGISTER_TABLES = [products, customers, cashSessions] as const;

/**
 * Merges every register write of the batch — products, customers and cash sessions together — in four
 * statements whatever the batch: lock the entities, read their rows, read the clocks of the writes
 * they hold, write the merged rows back.
 */
export async function projectRegisters(
  trx: Trx,
  all: ProjectionEvent[],
  sink: ProjectionSink,
): Promise<void> {
  const work = REGISTER_TABLES.map((s) => {
    const spec = s as unknown as RegisterTable<EventType>;
    const events = ofType(all, ...spec.types);
    return { spec, events, ids: [...new Set(events.map((e) => spec.idOf(e)))].sort() };
  }).filter((w) => w.events.length > 0);
  if (work.length === 0) return;

  // Serialise merges of the same entity across concurrent requests, in one fixed order (no deadlocks),
  // including entities that have no row yet. Reading comes after, in a statement of its own, so its
  // snapshot sees whatever the previous lock holder committed.
  const keys = work.flatMap((w) => w.ids.map((id) => `${w.spec.table}:${id}`)).sort();
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${keys}::text[]) AS k ORDER BY k`.execute(
    trx,
  );
  const reads = work.map(
    (w) =>
      sql`SELECT ${w.spec.table}::text AS t, to_jsonb(x) AS r FROM ${sql.table(w.spec.table)} x WHERE id = ANY(${w.ids}::uuid[])`,
  );
  const existing = await sql<{
    t: string;
    r: Record<string, unknown> & { id: string; store_id: string; field_stamps: Record<string, string> };
  }>`${sql.join(reads, sql` UNION ALL `)}`.execute(trx);

  const rowsByTable = new Map<string, Map<string, Row>>(work.map((w) => [w.spec.table, new Map()]));
  for (const { t, r } of existing.rows) {
    const spec = work.find((w) => w.spec.table === t)!.spec;
    const values: Record<string, unknown> = {};
    for (const c of Object.keys(spec.columns)) values[c] = r[c];
    rowsByTable.get(t)!.set(r.id, { store_id: r.store_id, values, stamps: { ...r.field_stamps } });
  }

  // Clocks of the writes we meet, to tell concurrent writes (audited) from causally ordered ones.
  const clocks = new Map<string, VectorClock>(all.map((e) => [e.event_id.toLowerCase(), e.vector_clock]));
  const unknown = new Set<string>();
  for (const rows of rowsByTable.values()) {
    for (const r of rows.values()) {
      for (const s of Object.values(r.stamps)) if (!clocks.has(stampEventId(s))) unknown.add(stampEventId(s));
    }
  }
  if (unknown.size > 0) {
    const found = await sql<{ event_id: string; vector_clock: VectorClock }>`
      SELECT event_id, vector_clock FROM events WHERE event_id = ANY(${[...unknown]}::uuid[])`.execute(trx);
    for (const f of found.rows) clocks.set(f.event_id, f.vector_clock);
  }

  const writes = work.map((w) => {
    const rows = rowsByTable.get(w.spec.table)!;
    mergeWrites(w.spec, w.events, rows, clocks, sink);
    const columns = Object.keys(w.spec.columns);
    const out = w.ids.map((id) => {
      const r = rows.get(id)!;
      return { id, store_id: r.store_id, field_stamps: r.stamps, ...r.values };
    });
    const recordType = sql.raw(
      [
        'id uuid',
        'store_id uuid',
        'field_stamps jsonb',
        ...columns.map((c) => `${c} ${w.spec.columns[c]}`),
      ].join(', '),
    );
    const names = sql.raw(['id', 'store_id', 'field_stamps', ...columns].join(', '));
    const updates = sql.raw(['field_stamps', ...columns].map((c) => `${c} = excluded.${c}`).join(', '));
    return sql`${sql.raw(`w_${w.spec.table}`)} AS (
      INSERT INTO ${sql.table(w.spec.table)} (${names})
      SELECT ${names} FROM jsonb_to_recordset(${JSON.stringify(out)}::jsonb) AS x(${recordType})
      ON CONFLICT (id) DO UPDATE SET ${updates})`;
  });
  // Independent tables: one statement, one round trip.
  await sql`WITH ${sql.join(writes, sql`, `)} SELECT 1`.execute(trx);
}

interface Row extends LwwState {
  store_id: string;
}

/** Applies each event's field writes to its entity's registers and records concurrent writes met. */
function mergeWrites(
  spec: RegisterTable<EventType>,
  events: ProjectionEvent[],
  rows: Map<string, Row>,
  clocks: Map<string, VectorClock>,
  sink: ProjectionSink,
): void {
  for (const e of events) {
    const id = spec.idOf(e);
    let row = rows.get(id);
    if (!row) rows.set(id, (row = { store_id: e.store_id, values: {}, stamps: {} }));
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
