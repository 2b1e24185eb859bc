import {
  EVENT_TYPES,
  payloadSchemas,
  pushRequestSchema,
  syncEventSchema,
  type EventType,
} from '../../../../domain/events/schemas';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const AT = '2026-11-20T12:00:00.000Z';

interface Case {
  good: Record<string, unknown>;
  /** A payload that breaks one rule, and the path of the field the error must name. */
  bad: Record<string, unknown>;
  path: (string | number)[];
}

const cases: Record<EventType, Case> = {
  SaleCreated: {
    good: { sale_id: id(1), items: [{ product_id: id(2), qty: 2, unit_price: 1.5 }], total: 3 },
    bad: { sale_id: id(1), items: [{ product_id: id(2), qty: 0, unit_price: 1.5 }] },
    path: ['items', 0, 'qty'],
  },
  SaleVoided: {
    good: { sale_id: id(1), reason: 'customer changed mind', voided_at: AT },
    bad: { sale_id: 'not-a-uuid' },
    path: ['sale_id'],
  },
  StockReceived: {
    good: { product_id: id(2), qty: 10, unit_cost: 0.5 },
    bad: { product_id: id(2), qty: -1 },
    path: ['qty'],
  },
  StockAdjusted: {
    good: { product_id: id(2), warehouse_id: id(3), qty_delta: -4 },
    bad: { product_id: id(2), qty_delta: 'four' },
    path: ['qty_delta'],
  },
  StockDeltaApplied: {
    good: { product_id: id(2), qty_delta: 1.25 },
    bad: { product_id: id(2), warehouse_id: 'main', qty_delta: 1 },
    path: ['warehouse_id'],
  },
  DebtCreated: {
    good: { debt_id: id(4), customer_id: id(5), amount: 100 },
    bad: { debt_id: id(4), amount: 0 },
    path: ['amount'],
  },
  DebtPaymentRecorded: {
    good: { payment_id: id(6), debt_id: id(4), amount: 20, payment_method: 'cash', paid_at: AT },
    bad: { payment_id: id(6), amount: 20 },
    path: ['debt_id'],
  },
  DebtPaymentAdded: {
    good: { payment_id: id(6), debt_id: id(4), amount: 20 },
    bad: { payment_id: id(6), debt_id: id(4), amount: 20, paid_at: 'yesterday' },
    path: ['paid_at'],
  },
  ProductCreated: {
    good: { product_id: id(2), name: 'Coffee', price: 2.5, sku: 'C-1' },
    bad: { product_id: id(2), name: '', price: 2.5 },
    path: ['name'],
  },
  ProductUpdated: {
    good: { product_id: id(2), price: 3 },
    bad: { product_id: id(2), price: -3 },
    path: ['price'],
  },
  CustomerCreated: {
    good: { customer_id: id(5), name: 'Ana', phone: '555' },
    bad: { customer_id: id(5) },
    path: ['name'],
  },
  CustomerUpdated: {
    good: { customer_id: id(5), credit_limit: 500 },
    bad: { customer_id: id(5), active: 'yes' },
    path: ['active'],
  },
  CashSessionOpened: {
    good: { session_id: id(7), opening_amount: 50, opened_at: AT },
    bad: { session_id: id(7), opening_amount: -50 },
    path: ['opening_amount'],
  },
  CashSessionClosed: {
    good: { session_id: id(7), closing_amount: 80, expected_amount: 75 },
    bad: { session_id: id(7), closing_amount: 80, closed_at: 'tonight' },
    path: ['closed_at'],
  },
  CashLedgerEntryCreated: {
    good: { entry_id: id(8), session_id: id(7), kind: 'out', amount: 5 },
    bad: { entry_id: id(8), kind: 'sideways', amount: 5 },
    path: ['kind'],
  },
  EscrowGranted: {
    good: { grant_id: id(9), node_id: 'cloud', device_id: id(3), product_id: id(2), qty: 3, expires_at: AT },
    bad: { grant_id: id(9), node_id: 'cloud', device_id: id(3), product_id: id(2), qty: 0, expires_at: AT },
    path: ['qty'],
  },
  EscrowConsumed: {
    good: {
      node_id: 'cloud',
      device_id: id(3),
      sale_id: id(1),
      sale_event_id: id(10),
      lines: [{ grant_id: id(9), line_no: 1, product_id: id(2), qty: 2 }],
    },
    bad: { node_id: 'cloud', device_id: id(3), sale_id: id(1), sale_event_id: id(10), lines: [] },
    path: ['lines'],
  },
  EscrowReleased: {
    good: { grant_id: id(9), node_id: 'cloud', product_id: id(2), qty_released: 1, qty_consumed: 2 },
    bad: { grant_id: id(9), node_id: 'cloud', product_id: id(2), qty_released: -1 },
    path: ['qty_released'],
  },
  EscrowRightsMoved: {
    good: { move_id: id(11), product_id: id(2), from_node: 'cloud', to_node: 'shop', qty: 4 },
    bad: { move_id: id(11), product_id: id(2), from_node: 'cloud', qty: 4 },
    path: ['to_node'],
  },
  FiscalSeriesDeclared: {
    good: {
      series_id: id(9),
      prefix: 'FV',
      first_number: 1,
      last_number: 5000,
      valid_until: AT,
      home_node: 'cloud',
      implicit: false,
    },
    bad: {
      series_id: id(9),
      prefix: 'FV',
      first_number: 0,
      last_number: null,
      valid_until: null,
      home_node: 'cloud',
      implicit: false,
    },
    path: ['first_number'],
  },
  FiscalBlockGranted: {
    good: {
      block_id: id(10),
      series_id: id(9),
      node_id: 'shop',
      block_start: 1,
      block_end: 1000,
      granted_by: 'cloud',
    },
    bad: {
      block_id: id(10),
      series_id: id(9),
      node_id: 'shop',
      block_start: 1.5,
      block_end: 1000,
      granted_by: 'cloud',
    },
    path: ['block_start'],
  },
  FiscalRangeGranted: {
    good: {
      range_id: id(11),
      series_id: id(9),
      device_id: id(12),
      node_id: 'shop',
      block_id: id(10),
      range_start: 1,
      range_end: 50,
      expires_at: AT,
    },
    bad: {
      range_id: id(11),
      series_id: id(9),
      device_id: id(12),
      node_id: 'shop',
      block_id: id(10),
      range_start: 1,
      range_end: 50,
      expires_at: 'tomorrow',
    },
    path: ['expires_at'],
  },
  FiscalRangeClosed: {
    good: { range_id: id(11), series_id: id(9), device_id: id(12), status: 'expired' },
    bad: { range_id: id(11), series_id: id(9), device_id: id(12), status: 'lost' },
    path: ['status'],
  },
};

function envelope(type: EventType, payload: Record<string, unknown>) {
  return {
    event_id: id(100),
    store_id: id(200),
    device_id: 'device-1',
    seq: 1,
    type,
    vector_clock: { 'device-1': 1 },
    payload,
    created_at: AT,
  };
}

describe('event payload schemas', () => {
  it('cover exactly the 23 event types (15 from devices, 4 node-made fiscal and 4 escrow ones)', () => {
    expect(EVENT_TYPES).toHaveLength(23);
    expect([...EVENT_TYPES].sort()).toEqual(Object.keys(cases).sort());
  });

  describe.each(EVENT_TYPES)('%s', (type) => {
    const c = cases[type];

    it('accepts a good payload, alone and inside an event', () => {
      expect(payloadSchemas[type].safeParse(c.good).success).toBe(true);
      const parsed = syncEventSchema.safeParse(envelope(type, c.good));
      expect(parsed.success).toBe(true);
      expect(parsed.data?.type).toBe(type);
    });

    it('rejects a bad payload and names the field path', () => {
      const alone = payloadSchemas[type].safeParse(c.bad);
      expect(alone.success).toBe(false);
      expect(alone.error?.issues.map((i) => i.path)).toContainEqual(c.path);

      const inEvent = syncEventSchema.safeParse(envelope(type, c.bad));
      expect(inEvent.success).toBe(false);
      expect(inEvent.error?.issues.map((i) => i.path)).toContainEqual(['payload', ...c.path]);
    });

    it("is not accepted under another type's name when its required fields differ", () => {
      const other = type === 'SaleCreated' ? 'DebtCreated' : 'SaleCreated';
      expect(syncEventSchema.safeParse(envelope(other, c.good)).success).toBe(false);
    });
  });

  it('keeps fields it does not know (the hash covers what the device sent)', () => {
    const parsed = payloadSchemas.ProductUpdated.parse({ product_id: id(2), price: 3, colour: 'red' });
    expect(parsed).toMatchObject({ colour: 'red' });
  });
});

describe('documented aliases', () => {
  it('DebtCreated: amount or total_amount, note or notes', () => {
    expect(payloadSchemas.DebtCreated.safeParse({ debt_id: id(4), amount: 10, note: 'n' }).success).toBe(
      true,
    );
    expect(
      payloadSchemas.DebtCreated.safeParse({ debt_id: id(4), total_amount: 10, notes: 'n' }).success,
    ).toBe(true);
    const neither = payloadSchemas.DebtCreated.safeParse({ debt_id: id(4), notes: 'n' });
    expect(neither.success).toBe(false);
    expect(neither.error?.issues[0]?.path).toEqual(['amount']);
    const badAlias = payloadSchemas.DebtCreated.safeParse({ debt_id: id(4), total_amount: -1 });
    expect(badAlias.error?.issues.map((i) => i.path)).toContainEqual(['total_amount']);
  });

  it.each(['DebtPaymentRecorded', 'DebtPaymentAdded'] as const)(
    '%s: method or payment_method, note or notes',
    (type) => {
      const base = { payment_id: id(6), debt_id: id(4), amount: 5 };
      expect(payloadSchemas[type].safeParse({ ...base, method: 'card', note: 'x' }).success).toBe(true);
      expect(payloadSchemas[type].safeParse({ ...base, payment_method: 'card', notes: 'x' }).success).toBe(
        true,
      );
      const bad = payloadSchemas[type].safeParse({ ...base, method: 7 });
      expect(bad.error?.issues.map((i) => i.path)).toContainEqual(['method']);
    },
  );

  it('SaleCreated: total or total_amount', () => {
    const items = [{ product_id: id(2), qty: 1, unit_price: 1 }];
    expect(payloadSchemas.SaleCreated.safeParse({ sale_id: id(1), items, total: 1 }).success).toBe(true);
    expect(payloadSchemas.SaleCreated.safeParse({ sale_id: id(1), items, total_amount: 1 }).success).toBe(
      true,
    );
    expect(payloadSchemas.SaleCreated.safeParse({ sale_id: id(1), items }).success).toBe(true);
  });
});

describe('ids', () => {
  it('are normalised to lower case, in the envelope and in payloads', () => {
    const upper = (n: number) => id(n).toUpperCase().replace('0000-4000', 'ABCD-4000');
    const event = syncEventSchema.parse({
      ...envelope('SaleCreated', {
        sale_id: upper(1),
        items: [{ product_id: upper(2), qty: 1, unit_price: 1 }],
      }),
      event_id: upper(100),
      store_id: upper(200),
    });
    expect(event.event_id).toBe(upper(100).toLowerCase());
    expect(event.store_id).toBe(upper(200).toLowerCase());
    const payload = event.payload as { sale_id: string; items: { product_id: string }[] };
    expect(payload.sale_id).toBe(upper(1).toLowerCase());
    expect(payload.items[0]?.product_id).toBe(upper(2).toLowerCase());
  });
});

describe('envelope and push request', () => {
  it('rejects an unknown type, naming the type field', () => {
    const r = syncEventSchema.safeParse({ ...envelope('SaleCreated', {}), type: 'SaleDeleted' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['type']);
  });

  it.each([
    ['seq', { seq: -1 }],
    ['created_at', { created_at: '20 Nov 2026' }],
    ['vector_clock', { vector_clock: { d: -1 } }],
    ['event_id', { event_id: 'x' }],
  ])('rejects a bad %s', (field, patch) => {
    const r = syncEventSchema.safeParse({ ...envelope('SaleVoided', { sale_id: id(1) }), ...patch });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path[0]).toBe(field);
  });

  it('names the index of the bad event in a push request', () => {
    const r = pushRequestSchema.safeParse({
      store_id: id(200),
      device_id: 'device-1',
      events: [envelope('SaleVoided', { sale_id: id(1) }), envelope('SaleVoided', { sale_id: 'nope' })],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['events', 1, 'payload', 'sale_id']);
  });
});
