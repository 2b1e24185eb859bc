import fc from 'fast-check';
import { decodeEvent, type EventLimits } from '../../../../domain/events/decode';
import { syncEventSchema } from '../../../../domain/events/schemas';
import { buildEvents, workloadArb } from '../../../support/workload';

const LIMITS: EventLimits = {
  maxBytes: 64 * 1024,
  maxDepth: 32,
  maxClockEntries: 256,
  minCreatedAt: new Date('2000-01-01T00:00:00Z'),
  maxCreatedAt: new Date('2200-01-01T00:00:00Z'),
};

/** Valid events of every type, from the workload generator the convergence tests use. */
const validEvents = workloadArb({ stores: 2, devices: 2, maxCommands: 6 })
  .map((w) => buildEvents(w))
  .filter((events) => events.length > 0);

const hostileValue = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.constant('a\u0000b'),
  fc.constant('\ud800'),
  fc.constant('\udc00x'),
  fc.constant('0000-01-01T00:00:00Z'),
  fc.constant('9999-12-31T23:59:59Z'),
  fc.constant('+275760-09-13T00:00:00.000Z'),
  fc.constant(1e308),
  fc.constant(-1),
  fc.constant(2 ** 63),
  fc.constant(Number.NaN),
  fc.constant([]),
  fc.constant({}),
  fc.constant('x'.repeat(70_000)),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** One near miss: a field of the envelope or payload replaced, removed, or a hostile field added. */
const mutation = fc.record({
  where: fc.constantFrom('envelope', 'payload', 'item'),
  field: fc.constantFrom(
    'event_id',
    'store_id',
    'device_id',
    'seq',
    'type',
    'vector_clock',
    'created_at',
    'payload',
    'sale_id',
    'product_id',
    'qty',
    'unit_price',
    'amount',
    'price',
    'name',
    'items',
    'debt_id',
    'voided_at',
    'paid_at',
    'extra',
  ),
  op: fc.constantFrom('set', 'delete', 'nest'),
  value: hostileValue,
  depth: fc.integer({ min: 1, max: 3000 }),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(event: unknown, m: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  const payload = (copy.payload ?? {}) as Record<string, unknown>;
  const items = Array.isArray(payload.items) ? (payload.items as Record<string, unknown>[]) : [];
  const target = m.where === 'envelope' ? copy : m.where === 'payload' ? payload : (items[0] ?? payload);
  if (m.op === 'delete') delete target[m.field];
  else if (m.op === 'set') target[m.field] = m.value;
  else {
    let deep: Record<string, unknown> = {};
    target[m.field] = deep;
    for (let i = 0; i < m.depth; i++) deep = deep.n = {} as Record<string, unknown>;
  }
  return copy;
}

describe('push decoder (near-miss events)', () => {
  it('accepts every valid event as it is', () => {
    fc.assert(
      fc.property(validEvents, (events) => {
        events.forEach((e, i) => {
          const d = decodeEvent(e, i, LIMITS);
          expect(d.ok).toBe(true);
        });
      }),
      { numRuns: 50 },
    );
  });

  it('never throws; a rejection names the event and a field; what it accepts is a valid event', () => {
    fc.assert(
      fc.property(validEvents, fc.nat(), mutation, (events, pick, m) => {
        const index = pick % events.length;
        const raw = mutate(events[index], m);
        const d = decodeEvent(raw, index, LIMITS);
        if (d.ok) {
          expect(syncEventSchema.safeParse(d.event).success).toBe(true);
          expect(JSON.stringify(d.event)).not.toMatch(/\\u0000/);
        } else {
          expect(d.rejection.index).toBe(index);
          expect(d.rejection.message).toMatch(new RegExp(`^events\\.${index}(\\.|:)`));
          expect(d.rejection.code).toMatch(/^[A-Z_]+$/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses what PostgreSQL cannot store or the node cannot afford, by its own code', () => {
    const [event] = fc.sample(validEvents, { numRuns: 1, seed: 7 })[0]!;
    const code = (raw: unknown) => {
      const d = decodeEvent(raw, 3, LIMITS);
      return d.ok ? 'ok' : d.rejection.code;
    };
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 3000; i++) at = at.n = {} as Record<string, unknown>;
    expect(code({ ...event, payload: { ...event!.payload, extra: deep } })).toBe('EVENT_TOO_DEEP');
    expect(code({ ...event, actor_user_id: 'x\u0000' })).toBe('INVALID_STRING');
    expect(code({ ...event, payload: { ...event!.payload, ['\udfff']: 1 } })).toBe('INVALID_STRING');
    expect(code({ ...event, payload: { ...event!.payload, blob: 'x'.repeat(66_000) } })).toBe(
      'EVENT_TOO_LARGE',
    );
    expect(code({ ...event, created_at: '1999-12-31T23:59:59Z' })).toBe('DATE_OUT_OF_RANGE');
    expect(code({ ...event, created_at: '0000-01-01T00:00:00Z' })).toBe('INVALID_EVENT');
    expect(code('not an event')).toBe('INVALID_EVENT');
    expect(code([event])).toBe('INVALID_EVENT');
    const clock = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`d${i}`, 1]));
    expect(code({ ...event, vector_clock: clock })).toBe('TOO_MANY_CLOCK_ENTRIES');
  });
});
