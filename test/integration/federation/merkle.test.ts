import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { eventDigest, xorInto } from '../../../domain/events/hash';
import type { SyncEvent } from '../../../domain/events/schemas';
import { prefixDigests, rebuildDigests, rootDigest } from '../../../infra/repositories/event-digests';
import { admin, createTestApp, storeWithDevice, type TestApp } from '../../support/app';
import { DeviceSim, worstCausalOrder } from '../../support/events';
import { push } from '../../support/projections';

// The digest tree in PostgreSQL and the peer routes that expose it: the SQL side must agree with
// the digests ingest keeps (and with the JS formula), and the routes must hand a reconciling peer
// exactly what it needs — and a 400 naming the field for anything else.

const PEER_TOKEN = 'peer-token-merkle-test-0123456789';
let app: TestApp;
const storeId = randomUUID();
const peer = { authorization: `Bearer ${PEER_TOKEN}` };
let events: SyncEvent[];

beforeAll(async () => {
  app = await createTestApp({
    PEERS: JSON.stringify([{ id: 'cloud', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
  });
  await storeWithDevice(app, storeId);
  // 300 events over three days, ~4 per hour, ingested in batches like pushes.
  const sim = new DeviceSim(storeId, randomUUID(), Date.parse('2026-11-20T00:00:00.000Z'));
  events = Array.from({ length: 300 }, (_, i) =>
    sim.event(
      'StockReceived',
      { product_id: randomUUID(), qty: (i % 5) + 1 },
      { at: Date.parse('2026-11-20T00:00:00.000Z') + i * 15 * 60_000 },
    ),
  );
  for (let i = 0; i < events.length; i += 70) await push(app.t.db, events.slice(i, i + 70));
});
afterAll(() => app.close());

const get = (url: string, headers = peer) => app.inject({ method: 'GET', url, headers });

test('the digests ingest keeps are the ones a rebuild from the events computes', async () => {
  const rows = () =>
    sql`SELECT store_id, bucket_hour, event_count, digest::text FROM event_digests ORDER BY 1, 2`.execute(
      app.t.db,
    );
  const incremental = (await rows()).rows;

  await rebuildDigests(app.t.db, storeId);

  expect((await rows()).rows).toEqual(incremental);
  const root = await rootDigest(app.t.db, storeId);
  const expected = Buffer.alloc(32);
  for (const e of events) {
    const hash = (
      await app.t.db
        .selectFrom('events')
        .select('full_payload_hash')
        .where('event_id', '=', e.event_id)
        .executeTakeFirstOrThrow()
    ).full_payload_hash;
    xorInto(expected, eventDigest(e.event_id, hash));
  }
  expect(root).toEqual({ count: 300, digest: expected.toString('hex') });
});

test('an hour split by id prefix adds back up to the hour (SQL sha256 = the JS formula)', async () => {
  const res = await get(`/sync/federation/merkle?store_id=${storeId}&level=hour&day=2026-11-21`);
  expect(res.statusCode).toBe(200);
  const hours = res.json<{ buckets: [string, number, string][] }>().buckets;
  expect(hours).toHaveLength(24);
  for (const [key, count, digest] of hours.slice(0, 3)) {
    const children = await prefixDigests(app.t.db, storeId, [key]);
    const xor = Buffer.alloc(32);
    for (const c of children) xorInto(xor, Buffer.from(c.digest, 'hex'));
    expect(children.reduce((n, c) => n + c.count, 0)).toBe(count);
    expect(xor.toString('hex').slice(0, 16)).toBe(digest);
    expect(children.every((c) => /^2026-11-21T\d{2}\/[0-9a-f]$/.test(c.key))).toBe(true);
  }
});

test('GET /sync/federation/merkle: root, days, hours of several days, prefix buckets', async () => {
  const root = await get(`/sync/federation/merkle?store_id=${storeId}&level=root`);
  expect(root.json()).toEqual({
    store_id: storeId,
    level: 'root',
    count: 300,
    digest: expect.stringMatching(/^[0-9a-f]{64}$/),
  });

  const days = (await get(`/sync/federation/merkle?store_id=${storeId}&level=day`)).json();
  expect(days.buckets.map((b: [string, number]) => [b[0], b[1]])).toEqual([
    ['2026-11-20', 96],
    ['2026-11-21', 96],
    ['2026-11-22', 96],
    ['2026-11-23', 12],
  ]);

  const hours = (
    await get(`/sync/federation/merkle?store_id=${storeId}&level=hour&day=2026-11-20,2026-11-23`)
  ).json();
  expect(hours.buckets).toHaveLength(27);
  // Below the root, digests travel as their first 16 hex digits.
  expect(hours.buckets[0]).toEqual(['2026-11-20T00', 4, expect.stringMatching(/^[0-9a-f]{16}$/)]);

  const prefix = (
    await get(`/sync/federation/merkle?store_id=${storeId}&level=prefix&bucket=2026-11-20T00,2026-11-20T01`)
  ).json();
  expect(prefix.buckets.reduce((n: number, b: [string, number]) => n + b[1], 0)).toBe(8);

  const unknown = (await get(`/sync/federation/merkle?store_id=${randomUUID()}&level=root`)).json();
  expect(unknown).toMatchObject({ count: 0, digest: '0'.repeat(64) });
});

test('GET /sync/federation/events lists ids and hashes of an hour or of buckets', async () => {
  const inHour = events.filter((e) => e.created_at.startsWith('2026-11-20T05'));
  const byHour = (await get(`/sync/federation/events?store_id=${storeId}&hour=2026-11-20T05:30:00Z`)).json();
  expect(byHour.events.map((x: [string, string]) => x[0])).toEqual(inHour.map((e) => e.event_id).sort());
  expect(byHour.events[0][1]).toMatch(/^[0-9a-f]{16}$/);

  const first = inHour[0]!.event_id[0];
  const byBucket = (
    await get(`/sync/federation/events?store_id=${storeId}&bucket=2026-11-20T05/${first}`)
  ).json();
  expect(byBucket.events.map((x: [string, string]) => x[0])).toEqual(
    inHour
      .filter((e) => e.event_id.startsWith(first!))
      .map((e) => e.event_id)
      .sort(),
  );
});

test('POST /sync/federation/events/fetch returns events as stored, which /sync/push takes from a peer', async () => {
  const wanted = [events[3]!.event_id, events[1]!.event_id];
  const absent = randomUUID();
  const res = await app.inject({
    method: 'POST',
    url: '/sync/federation/events/fetch',
    headers: peer,
    payload: { store_id: storeId, event_ids: [...wanted, absent] },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json<{ events: SyncEvent[]; missing: string[] }>();
  expect(body.missing).toEqual([absent]);
  expect(body.events.map((e) => e.event_id).sort()).toEqual([...wanted].sort());
  expect(body.events[0]).toMatchObject({ origin_node: 'node-a', type: 'StockReceived', store_id: storeId });

  const other = await createTestApp({
    PEERS: JSON.stringify([{ id: 'a', url: 'http://127.0.0.1:9', token: PEER_TOKEN }]),
  });
  try {
    const pushed = await other.inject({
      method: 'POST',
      url: '/sync/push',
      headers: peer,
      payload: { store_id: storeId, device_id: 'node-test', events: body.events },
    });
    expect(pushed.json()).toMatchObject({ accepted: expect.arrayContaining(wanted), rejected: [] });
    const hashes = (db: TestApp['t']['db']) =>
      db
        .selectFrom('events')
        .select(['event_id', 'full_payload_hash'])
        .where('event_id', 'in', wanted)
        .orderBy('event_id')
        .execute();
    expect(await hashes(other.t.db)).toEqual(await hashes(app.t.db));
  } finally {
    await other.close();
  }
});

test('POST /sync/federation/events/fetch answers in causal order, whatever order they were committed in', async () => {
  // A peer replaying the events in commit, id or request order would project a void before its sale.
  const store = randomUUID();
  await storeWithDevice(app, store);
  const { committed, causal } = worstCausalOrder(store);
  for (const e of committed) expect((await push(app.t.db, [e])).accepted).toHaveLength(1);

  const res = await app.inject({
    method: 'POST',
    url: '/sync/federation/events/fetch',
    headers: peer,
    payload: { store_id: store, event_ids: committed.map((e) => e.event_id) },
  });
  expect(res.statusCode).toBe(200);
  const answered = res.json<{ events: SyncEvent[] }>().events;
  expect(answered.map((e) => e.event_id)).toEqual(causal.map((e) => e.event_id));
});

test('bad input is a 400 that names the field', async () => {
  const cases: [string, string][] = [
    [`/sync/federation/merkle?store_id=${storeId}&level=hour`, 'querystring.day'],
    [`/sync/federation/merkle?store_id=${storeId}&level=hour&day=2026-13-40`, 'querystring.day'],
    [`/sync/federation/merkle?store_id=${storeId}&level=prefix`, 'querystring.bucket'],
    [
      `/sync/federation/merkle?store_id=${storeId}&level=prefix&bucket=2026-11-20T05/abcdefgh`,
      'querystring.bucket',
    ],
    [`/sync/federation/merkle?store_id=${storeId}&level=week`, 'querystring.level'],
    [`/sync/federation/merkle?store_id=nope&level=root`, 'querystring.store_id'],
    [`/sync/federation/events?store_id=${storeId}`, 'querystring.hour'],
    [`/sync/federation/events?store_id=${storeId}&hour=yesterday`, 'querystring.hour'],
  ];
  for (const [url, field] of cases) {
    const res = await get(url);
    expect({ url, status: res.statusCode }).toEqual({ url, status: 400 });
    expect(res.json().error.message).toContain(field);
  }
  const tooMany = await app.inject({
    method: 'POST',
    url: '/sync/federation/events/fetch',
    headers: peer,
    payload: { store_id: storeId, event_ids: Array.from({ length: 1001 }, () => randomUUID()) },
  });
  expect(tooMany.statusCode).toBe(400);
  expect(tooMany.json().error.message).toContain('body.event_ids');
});

test('peers and admins may read the tree; devices and strangers may not', async () => {
  const device = await storeWithDevice(app, storeId);
  const url = `/sync/federation/merkle?store_id=${storeId}&level=root`;
  expect((await get(url, admin)).statusCode).toBe(200);
  expect((await get(url, device.headers)).statusCode).toBe(403);
  expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
});

test('rebuilding some hours of a store leaves it as a full rebuild would', async () => {
  const storeB = randomUUID();
  const sim = new DeviceSim(storeB, randomUUID(), Date.parse('2026-11-20T00:00:00.000Z'));
  const mine = Array.from({ length: 40 }, (_, i) =>
    sim.event(
      'StockReceived',
      { product_id: randomUUID(), qty: 1 },
      { at: Date.parse('2026-11-20T00:00:00.000Z') + i * 10 * 60_000 },
    ),
  );
  await push(app.t.db, mine);
  const digests = () =>
    sql`SELECT bucket_hour, event_count, digest::text FROM event_digests WHERE store_id = ${storeB} ORDER BY 1`.execute(
      app.t.db,
    );
  // Events removed behind ingest's back (as a restore would): only their hours need rebuilding.
  const gone = [mine[7]!, mine[31]!];
  await app.t.db
    .deleteFrom('events')
    .where(
      'event_id',
      'in',
      gone.map((e) => e.event_id),
    )
    .execute();

  await rebuildDigests(app.t.db, storeB, [...new Set(gone.map((e) => e.created_at.slice(0, 13)))]);
  const partial = (await digests()).rows;
  await rebuildDigests(app.t.db, storeB);

  expect(partial).toEqual((await digests()).rows);
  expect((await rootDigest(app.t.db, storeB)).count).toBe(38);
  expect((await rootDigest(app.t.db, storeId)).count).toBe(300);
});
