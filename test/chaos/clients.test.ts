// First: Dexie looks for IndexedDB when it loads (the POS client's lost-answer case below).
import 'fake-indexeddb/auto';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { sql } from 'kysely';
import { PosDatabase } from '../../pwa/src/db';
import { createNodeApi, NetworkError } from '../../pwa/src/node-api';
import { SyncClient } from '../../pwa/src/sync-client';
import type { SyncEvent } from '../../domain/events/schemas';
import type { PushResponse } from '../../domain/wire/peer-protocol';
import { createTestApp, storeWithDevice, type TestApp } from '../support/app';
import { DeviceSim } from '../support/events';
import { eventually } from '../support/nodes';
import { PeerProxy } from '../support/peer-proxy';

// Clients that misbehave (issue 18, item 3), against the real API listening on a real socket and the
// real PostgreSQL: two tabs of one device pushing the same queue at once, a device whose clock
// jumps, an answer lost after the commit, and slow clients holding connections. Whatever they do,
// every event is stored once, every projection counts it once, and no answer is a 5xx.

const SKEW_MS = 1000;
let app: TestApp;
let url: string;
/** Every status the node answered in this file (none may be a 5xx). */
const statuses: number[] = [];

beforeAll(async () => {
  app = await createTestApp({
    // A small skew so the test can see a jumped clock stop winning without waiting 5 minutes.
    HLC_MAX_SKEW_MS: String(SKEW_MS),
    HTTP_HEADERS_TIMEOUT_MS: '500',
    HTTP_REQUEST_TIMEOUT_MS: '1500',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
  });
  app.addHook('onResponse', async (_request, reply) => {
    statuses.push(reply.statusCode);
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());
afterEach(() => {
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
});

interface Device {
  storeId: string;
  deviceId: string;
  headers: { authorization: string };
  sim: DeviceSim;
}

async function newDevice(storeId = randomUUID()): Promise<Device> {
  const d = await storeWithDevice(app, storeId);
  return { storeId, deviceId: d.deviceId, headers: d.headers, sim: new DeviceSim(storeId, d.deviceId) };
}

/** A push over HTTP, as a browser tab sends it (its own request on the socket pool). */
async function push(device: Device, events: unknown[], base = url) {
  const res = await fetch(`${base}/sync/push`, {
    method: 'POST',
    headers: { ...device.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ store_id: device.storeId, device_id: device.deviceId, events }),
  });
  return { status: res.status, body: (await res.json()) as PushResponse };
}

const ids = (events: SyncEvent[]) => events.map((e) => e.event_id);
const sorted = (xs: string[]) => [...xs].sort();

async function storedCopies(storeId: string) {
  return sql<{ event_id: string; n: string }>`
    SELECT event_id, count(*) AS n FROM events WHERE store_id = ${storeId} GROUP BY event_id`.execute(
    app.t.db,
  );
}

describe('two tabs of one device push the same queue at the same moment', () => {
  /** One round of a till's day: stock in, a sale, a debt and a payment on it, a cash entry. */
  function round(sim: DeviceSim, product: string) {
    const session = randomUUID();
    const debt = randomUUID();
    return [
      sim.event('CashSessionOpened', { session_id: session, opening_amount: 50 }),
      sim.event('StockReceived', { product_id: product, qty: 10 }),
      sim.event('SaleCreated', {
        sale_id: randomUUID(),
        session_id: session,
        items: [{ product_id: product, qty: 1, unit_price: 3 }],
      }),
      sim.event('DebtCreated', { debt_id: debt, amount: 10 }),
      sim.event('DebtPaymentRecorded', { payment_id: randomUUID(), debt_id: debt, amount: 4 }),
      sim.event('CashLedgerEntryCreated', {
        entry_id: randomUUID(),
        session_id: session,
        kind: 'in',
        amount: 5,
      }),
    ];
  }

  /** Each tab hears back about every event it sent, and each event is new to exactly one of them. */
  function expectConsistent(sent: SyncEvent[][], answers: { status: number; body: PushResponse }[]) {
    const acceptedBy = new Map<string, number>();
    answers.forEach((a, tab) => {
      expect(a.status).toBe(200);
      expect(a.body.rejected).toEqual([]);
      expect(sorted([...a.body.accepted, ...a.body.duplicates])).toEqual(sorted(ids(sent[tab]!)));
      for (const id of a.body.accepted) {
        expect(acceptedBy.get(id)).toBeUndefined();
        acceptedBy.set(id, tab);
      }
    });
    const all = new Set(sent.flatMap(ids));
    expect(sorted([...acceptedBy.keys()])).toEqual(sorted([...all]));
  }

  async function expectCountedOnce(device: Device, product: string, rounds: number, events: number) {
    const copies = await storedCopies(device.storeId);
    expect(copies.rows).toHaveLength(events);
    expect(copies.rows.filter((r) => r.n !== '1')).toEqual([]);
    const db = app.t.db;
    const stock = await db
      .selectFrom('warehouse_stock')
      .select('stock')
      .where('store_id', '=', device.storeId)
      .where('product_id', '=', product)
      .executeTakeFirstOrThrow();
    expect(Number(stock.stock)).toBe(rounds * (10 - 1));
    const movements = await db
      .selectFrom('stock_movements')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('store_id', '=', device.storeId)
      .executeTakeFirstOrThrow();
    expect(Number(movements.n)).toBe(rounds * 2);
    const debts = await db
      .selectFrom('debts')
      .select(['paid_amount', 'remaining_amount'])
      .where('store_id', '=', device.storeId)
      .execute();
    expect(debts).toHaveLength(rounds);
    for (const d of debts) expect([Number(d.paid_amount), Number(d.remaining_amount)]).toEqual([4, 6]);
    const payments = await db
      .selectFrom('debt_payments')
      .select('id')
      .where('store_id', '=', device.storeId)
      .execute();
    expect(payments).toHaveLength(rounds);
    const cash = await db
      .selectFrom('cash_ledger_entries')
      .select(['amount'])
      .where('store_id', '=', device.storeId)
      .execute();
    expect(cash.reduce((s, c) => s + Number(c.amount), 0)).toBe(rounds * 5);
    const sales = await db.selectFrom('sales').select('id').where('store_id', '=', device.storeId).execute();
    expect(sales).toHaveLength(rounds);
  }

  test('the same batch from two tabs, round after round: stored once, counted once, both answers 200', async () => {
    const device = await newDevice();
    const product = randomUUID();
    const created = device.sim.event('ProductCreated', { product_id: product, name: 'Arroz', price: 2 });
    expect((await push(device, [created])).status).toBe(200);
    const rounds = 8;
    for (let r = 0; r < rounds; r++) {
      const batch = round(device.sim, product);
      const answers = await Promise.all([push(device, batch), push(device, batch)]);
      expectConsistent([batch, batch], answers);
    }
    await expectCountedOnce(device, product, rounds, 1 + rounds * 6);
  });

  test('partially overlapping batches from two tabs: the shared events are stored and counted once', async () => {
    const device = await newDevice();
    const product = randomUUID();
    const created = device.sim.event('ProductCreated', { product_id: product, name: 'Café', price: 4 });
    expect((await push(device, [created])).status).toBe(200);
    const rounds = 8;
    for (let r = 0; r < rounds; r++) {
      const batch = round(device.sim, product);
      // One tab has sent the first four, the other the last four: two events are in both.
      const tabs = [batch.slice(0, 4), batch.slice(2)];
      const answers = await Promise.all(tabs.map((events) => push(device, events)));
      expectConsistent(tabs, answers);
    }
    await expectCountedOnce(device, product, rounds, 1 + rounds * 6);
  });
});

test('two tabs that each wrote their own sale with the same seq (a forked queue): both sales kept, no 5xx', async () => {
  const device = await newDevice();
  const product = randomUUID();
  const forked = new DeviceSim(device.storeId, device.deviceId);
  const sale = (sim: DeviceSim) =>
    sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: product, qty: 1, unit_price: 2 }],
    });
  const mine = sale(device.sim);
  const theirs = sale(forked);
  expect(theirs.seq).toBe(mine.seq);
  const answers = await Promise.all([push(device, [mine]), push(device, [theirs])]);
  expect(answers.map((a) => [a.status, a.body.accepted.length, a.body.rejected.length])).toEqual([
    [200, 1, 0],
    [200, 1, 0],
  ]);
  const sales = await app.t.db
    .selectFrom('sales')
    .select('id')
    .where('store_id', '=', device.storeId)
    .execute();
  expect(sorted(sales.map((r) => r.id))).toEqual(
    sorted([mine, theirs].map((e) => (e.payload as { sale_id: string }).sale_id)),
  );
});

describe('a device whose clock jumps', () => {
  async function productRow(storeId: string, product: string) {
    return app.t.db
      .selectFrom('products')
      .select(['name', 'price'])
      .where('store_id', '=', storeId)
      .where('id', '=', product)
      .executeTakeFirstOrThrow();
  }
  async function hlcOf(eventIds: string[]) {
    const rows = await app.t.db
      .selectFrom('events')
      .select(['event_id', 'hlc', 'created_at'])
      .where('event_id', 'in', eventIds)
      .execute();
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    return eventIds.map((id) => byId.get(id)!);
  }
  /** The device's queue with each event's created_at as its (jumping) clock said. */
  function at(e: SyncEvent, when: Date): SyncEvent {
    return { ...e, created_at: when.toISOString() };
  }
  const DAY = 24 * 3600_000;
  const YEAR = 365 * DAY;

  test.each([
    ['one push', (q: SyncEvent[]) => [q]],
    ['mid-queue, over two pushes', (q: SyncEvent[]) => [q.slice(0, 3), q.slice(3)]],
  ])(
    'forward by years then back by days (%s): causality decides, the stamp is bounded, the later edits win',
    async (_name, split) => {
      const device = await newDevice();
      const product = randomUUID();
      const now = Date.now();
      const queue = [
        at(device.sim.event('ProductCreated', { product_id: product, name: 'v0', price: 1 }), new Date(now)),
        at(device.sim.event('ProductUpdated', { product_id: product, name: 'v1' }), new Date(now + 1000)),
        // The tablet's clock jumps three years ahead...
        at(device.sim.event('ProductUpdated', { product_id: product, name: 'v2' }), new Date(now + 3 * YEAR)),
        // ...then is put right, and lands three days in the past.
        at(device.sim.event('ProductUpdated', { product_id: product, name: 'v3' }), new Date(now - 3 * DAY)),
        at(
          device.sim.event('ProductUpdated', { product_id: product, price: 7 }),
          new Date(now - 3 * DAY + 1000),
        ),
      ];
      const before = Date.now();
      for (const events of split(queue)) {
        const res = await push(device, events);
        expect(res.status).toBe(200);
        expect(res.body.rejected).toEqual([]);
        expect(sorted(res.body.accepted)).toEqual(sorted(ids(events)));
      }
      const after = Date.now();

      // Every edit saw the one before it: the last ones win, whatever the clock said.
      expect(await productRow(device.storeId, product)).toEqual({ name: 'v3', price: '7.00' });
      const stamps = await hlcOf(ids(queue));
      // created_at is kept as sent; the ordering stamp follows causality...
      expect(stamps.map((s) => new Date(s.created_at).getTime())).toEqual(
        queue.map((e) => Date.parse(e.created_at)),
      );
      for (let i = 1; i < stamps.length; i++) {
        expect(new Date(stamps[i]!.hlc).getTime()).toBeGreaterThan(new Date(stamps[i - 1]!.hlc).getTime());
      }
      // ...and the jump ahead counts as at most the skew ahead of the node's clock, and is audited.
      const jumped = new Date(stamps[2]!.hlc).getTime();
      expect(jumped).toBeGreaterThanOrEqual(before + SKEW_MS - 1);
      expect(jumped).toBeLessThanOrEqual(after + SKEW_MS);
      const audit = await app.t.db
        .selectFrom('conflict_audit_log')
        .select(['entity_id', 'strategy'])
        .where('store_id', '=', device.storeId)
        .where('strategy', '=', 'clock-bounded')
        .execute();
      expect(audit.map((a) => a.entity_id)).toEqual([queue[2]!.event_id]);
    },
  );

  test('a clock years ahead cannot win forever: a concurrent honest edit made after its bounded stamp wins', async () => {
    const tablet = await newDevice();
    const till = { ...(await storeWithDevice(app, tablet.storeId)), storeId: tablet.storeId };
    const tillDevice: Device = { ...till, sim: new DeviceSim(tablet.storeId, till.deviceId) };
    const product = randomUUID();
    const created = tablet.sim.event('ProductCreated', { product_id: product, name: 'Pan', price: 1 });
    expect((await push(tablet, [created])).status).toBe(200);
    tillDevice.sim.observe(tablet.sim.clock);
    const ahead = at(
      tablet.sim.event('ProductUpdated', { product_id: product, name: 'from 2099' }),
      new Date('2099-01-01T00:00:00Z'),
    );
    expect((await push(tablet, [ahead])).body.accepted).toEqual([ahead.event_id]);
    const [stamp] = await hlcOf([ahead.event_id]);
    const bounded = new Date(stamp!.hlc).getTime();
    expect(bounded).toBeLessThan(Date.parse('2099-01-01T00:00:00Z'));
    // The till has not seen the tablet's edit (concurrent); its honest clock passes the bounded stamp.
    await eventually(
      'the node clock to pass the bounded stamp',
      async () => Date.now(),
      (t) => t > bounded + 1,
    );
    const honest = at(
      tillDevice.sim.event('ProductUpdated', { product_id: product, name: 'honest' }),
      new Date(),
    );
    const res = await push(tillDevice, [honest]);
    expect(res.body.accepted).toEqual([honest.event_id]);
    expect((await productRow(tablet.storeId, product)).name).toBe('honest');
  });

  test('a clock outside the window (1970, 2300) is refused for that event alone, never a 5xx', async () => {
    const device = await newDevice();
    const product = randomUUID();
    const queue = [
      device.sim.event('ProductCreated', { product_id: product, name: 'ok', price: 1 }),
      at(device.sim.event('ProductUpdated', { product_id: product, name: '1970' }), new Date(0)),
      at(
        device.sim.event('ProductUpdated', { product_id: product, name: '2300' }),
        new Date('2300-01-01T00:00:00Z'),
      ),
      device.sim.event('ProductUpdated', { product_id: product, price: 2 }),
    ];
    const res = await push(device, queue);
    expect(res.status).toBe(200);
    expect(res.body.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'DATE_OUT_OF_RANGE'],
      [2, 'DATE_OUT_OF_RANGE'],
    ]);
    expect(sorted(res.body.accepted)).toEqual(sorted([queue[0]!.event_id, queue[3]!.event_id]));
    expect(await productRow(device.storeId, product)).toEqual({ name: 'ok', price: '2.00' });
  });
});

describe('an answer lost after the commit', () => {
  let proxy: PeerProxy;
  beforeAll(async () => {
    proxy = new PeerProxy(url);
    await proxy.start();
  });
  afterAll(() => proxy.close());

  test('the node commits, the connection drops before the answer, the resend is answered duplicates', async () => {
    const device = await newDevice();
    const product = randomUUID();
    const events = [
      device.sim.event('ProductCreated', { product_id: product, name: 'Leche', price: 1 }),
      device.sim.event('StockReceived', { product_id: product, qty: 12 }),
      device.sim.event('SaleCreated', {
        sale_id: randomUUID(),
        items: [{ product_id: product, qty: 2, unit_price: 1 }],
      }),
    ];
    let drops = 1;
    proxy.dropAnswer = () => drops-- > 0;
    await expect(push(device, events, proxy.url)).rejects.toThrow();
    // The node answered 200 to the proxy: it has them, the device does not know.
    expect(proxy.pushes.at(-1)).toMatchObject({ status: 200, eventIds: ids(events) });
    expect((await storedCopies(device.storeId)).rows).toHaveLength(3);

    const again = await push(device, events, proxy.url);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: [], rejected: [], last_node_seq: null });
    expect(sorted(again.body.duplicates)).toEqual(sorted(ids(events)));
    const copies = await storedCopies(device.storeId);
    expect(copies.rows.filter((r) => r.n !== '1')).toEqual([]);
    const stock = await app.t.db
      .selectFrom('warehouse_stock')
      .select('stock')
      .where('store_id', '=', device.storeId)
      .where('product_id', '=', product)
      .executeTakeFirstOrThrow();
    expect(Number(stock.stock)).toBe(10);
  });

  test('the POS sync client resends after a lost answer and counts the duplicates as delivered', async () => {
    const storeId = randomUUID();
    const device = await storeWithDevice(app, storeId);
    const db = new PosDatabase(`pos-${randomUUID()}`);
    await db.device.put({
      key: 'self',
      store_id: storeId,
      device_id: device.deviceId,
      token: device.token,
      series_id: null,
      warehouse_id: null,
      seq: 0,
      vector_clock: {},
      last_time_ms: 0,
    });
    const api = createNodeApi({ baseUrl: proxy.url, token: device.token });
    const sync = new SyncClient({ db, api, backoff: { baseMs: 1, maxMs: 2 } });
    const product = randomUUID();
    const sale = { sale_id: randomUUID(), items: [{ product_id: product, qty: 1, unit_price: 2 }] };
    const made = [
      await sync.record('SaleCreated', sale),
      await sync.record('SaleCreated', { ...sale, sale_id: randomUUID() }),
    ];
    let drops = 1;
    proxy.dropAnswer = () => drops-- > 0;
    await expect(sync.push()).rejects.toBeInstanceOf(NetworkError);
    expect((await storedCopies(storeId)).rows).toHaveLength(2);
    expect(await db.outbox.where('status').equals('pending').count()).toBe(2);

    expect(await sync.push()).toEqual({ accepted: 0, duplicates: 2, rejected: 0 });
    expect(await db.outbox.where('status').equals('pending').count()).toBe(0);
    const copies = await storedCopies(storeId);
    expect(sorted(copies.rows.map((r) => r.event_id))).toEqual(sorted(made.map((e) => e.event_id)));
    expect(copies.rows.filter((r) => r.n !== '1')).toEqual([]);
    const sales = await app.t.db.selectFrom('sales').select('id').where('store_id', '=', storeId).execute();
    expect(sales).toHaveLength(2);
    db.close();
  });
});

describe('a slow client holding a connection', () => {
  /** A raw TCP client: what it was sent back, and when the node closed the connection. */
  function rawClient() {
    const socket: Socket = connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
    return { socket, closed, connected: new Promise((r) => socket.once('connect', r)) };
  }
  /** Writes `chunks` one by one, a little apart, until the socket closes (or they run out). */
  function trickle(socket: Socket, chunks: string[]) {
    const timer = setInterval(() => {
      const next = chunks.shift();
      if (next === undefined || socket.destroyed) return clearInterval(timer);
      socket.write(next);
    }, 100);
    socket.once('close', () => clearInterval(timer));
  }
  /**
   * The node answers 408 and closes. A client still writing when the node closes may have that
   * answer reset away by its own late bytes (TCP), so for those a bare close counts too; never 5xx.
   */
  function expectCutOff(received: string, stillWriting: boolean) {
    if (stillWriting && received.length === 0) return;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  }

  test('headers sent very slowly (slowloris), a body that stalls, a body that trickles: each is cut off, other clients are served meanwhile', async () => {
    const device = await newDevice();
    const body = JSON.stringify({
      store_id: device.storeId,
      device_id: device.deviceId,
      events: [device.sim.event('ProductCreated', { product_id: randomUUID(), name: 'x', price: 1 })],
    });
    const head = (length: number) =>
      `POST /sync/push HTTP/1.1\r\nHost: node\r\nAuthorization: ${device.headers.authorization}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

    // Slowloris: a header line every 100 ms, forever (a thousand of them is far past any budget).
    const loris = rawClient();
    await loris.connected;
    loris.socket.write('POST /sync/push HTTP/1.1\r\nHost: node\r\n');
    trickle(
      loris.socket,
      Array.from({ length: 1000 }, (_, i) => `X-Slow-${i}: a\r\n`),
    );
    // A client that connects and never says a word.
    const mute = rawClient();
    // Full headers, half the body, then nothing.
    const stalled = rawClient();
    await stalled.connected;
    stalled.socket.write(head(Buffer.byteLength(body)) + body.slice(0, body.length / 2));
    // Full headers, then the body a byte every 100 ms: never idle, but never done within the budget.
    const dribble = rawClient();
    await dribble.connected;
    dribble.socket.write(head(Buffer.byteLength(body)));
    trickle(dribble.socket, body.split(''));

    // Meanwhile an honest till pushes a sale and reads its health.
    const honest = await newDevice();
    const sale = honest.sim.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: randomUUID(), qty: 1, unit_price: 1 }],
    });
    const res = await push(honest, [sale]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toEqual([sale.event_id]);
    expect((await fetch(`${url}/healthz`)).status).toBeLessThan(500);

    expectCutOff(await loris.closed, true);
    expectCutOff(await mute.closed, false);
    expectCutOff(await stalled.closed, false);
    expectCutOff(await dribble.closed, true);
    // None of the slow pushes reached the log.
    expect((await storedCopies(device.storeId)).rows).toHaveLength(0);
    // Without the timeouts the slow sockets stay open for good: fail in seconds, not at jest's 120 s.
  }, 20_000);

  test('a keep-alive connection left idle after its answer is closed', async () => {
    const idle = rawClient();
    await idle.connected;
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: keep-alive\r\n\r\n');
    // Answered, then held open by the client and never used again: the node closes it.
    expect(await idle.closed).toMatch(/^HTTP\/1\.1 200 /);
  }, 20_000);

  test('a big push sent at a normal pace is not cut off', async () => {
    const device = await newDevice();
    const product = randomUUID();
    // About 1 MB, a relay batch's size (RELAY_BATCH_MAX_BYTES).
    const events = Array.from({ length: 200 }, (_, i) =>
      device.sim.wire('ProductUpdated', { product_id: product, name: `n${i}`, notes: 'x'.repeat(5000) }),
    );
    const res = await push(device, events);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toHaveLength(200);
  });
});
