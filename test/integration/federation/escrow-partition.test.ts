import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestNetwork, eventually, type TestNode } from '../../support/nodes';
import { PeerProxy } from '../../support/peer-proxy';
import { assertSameTables } from '../../support/projections';
import { DeviceSim } from '../../support/events';

// Escrow across two masters (docs/escrow.md, the bounded counter): two real nodes (API + worker
// child processes, own databases and namespaces) reach each other only through proxies this test
// can cut. Stock is received on a, so a holds the rights; b gets some by asking a (automatically,
// when a grant finds it short) and by an admin transfer. Then the network is cut and every till on
// both sides asks for as much as it may, several times; then it heals. Both sides granted during
// the cut, yet the total granted is within the stock, each node stayed within its rights, and both
// nodes end with the same escrow tables.

const RELAY_ENV = {
  RELAY_POLL_INTERVAL_MS: '500',
  RELAY_BACKOFF_BASE_MS: '100',
  RELAY_BACKOFF_MAX_MS: '300',
  RELAY_OPEN_MS: '500',
  RELAY_HTTP_TIMEOUT_MS: '3000',
};
const STOCK = 100;
const TILLS = 4;

let a: TestNode;
let b: TestNode;
const proxies: Record<string, PeerProxy> = {};

beforeAll(async () => {
  const net = await createTestNetwork(['a', 'b'], { env: RELAY_ENV });
  a = net.a!;
  b = net.b!;
  for (const node of [a, b]) {
    proxies[node.id] = new PeerProxy(node.url);
    await proxies[node.id]!.start();
  }
  // Each node reaches its peer through the proxy in front of that peer.
  for (const node of [a, b]) {
    const peers = JSON.parse(node.env.PEERS!) as { id: string; url: string; token: string }[];
    node.env.PEERS = JSON.stringify(peers.map((p) => ({ ...p, url: proxies[p.id]!.url })));
  }
  // One at a time: each bundles its workflows at start, and the machine is small.
  await a.start();
  await b.start();
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  for (const p of Object.values(proxies)) await p.close();
});

interface Till {
  node: TestNode;
  id: string;
  headers: Record<string, string>;
}

async function registerTills(node: TestNode, storeId: string): Promise<Till[]> {
  const out: Till[] = [];
  for (let i = 0; i < TILLS; i++) {
    const res = await node.request<{ device_id: string; token: string }>(
      'POST',
      `/stores/${storeId}/devices`,
      {
        name: `POS ${i} on ${node.id}`,
      },
    );
    expect(res.status).toBe(201);
    out.push({ node, id: res.body.device_id, headers: { authorization: `Bearer ${res.body.token}` } });
  }
  return out;
}

async function grant(t: Till, storeId: string, product: string, qty: number): Promise<number> {
  const res = await t.node.request<{ granted: { qty_granted: number }[]; denied: unknown[] }>(
    'POST',
    '/inventory/escrow/batch-grant',
    { store_id: storeId, device_id: t.id, items: [{ product_id: product, qty }] },
    t.headers,
  );
  expect(res.status).toBe(200);
  return res.body.granted.reduce((s, g) => s + g.qty_granted, 0);
}

const rights = async (node: TestNode, storeId: string, product: string) =>
  (
    await node.request<{
      rights: number;
      movedIn: number;
      movedOut: number;
      stock: number;
      reserved: number;
    }>('GET', `/inventory/escrow/rights?store_id=${storeId}&product_id=${product}`)
  ).body;

async function grantedOn(node: TestNode, storeId: string, product: string) {
  const r = await sql<{ node_id: string; qty: string }>`
    SELECT node_id, sum(qty_granted)::text AS qty FROM escrow_quotas
    WHERE store_id = ${storeId} AND product_id = ${product} GROUP BY node_id`.execute(node.db);
  return Object.fromEntries(r.rows.map((x) => [x.node_id, Number(x.qty)]));
}

interface PeerStatus {
  peer_id: string;
  lag: { events: number | null };
  circuit: { state: string };
}
const lagZero = async () => {
  const all = await Promise.all(
    [a, b].map((n) => n.request<{ peers: PeerStatus[] }>('GET', '/sync/federation/status')),
  );
  return all.every((s) => s.body.peers.every((p) => p.lag.events === 0 && p.circuit.state === 'CLOSED'));
};

test('partitioned nodes granting escrow for one product never grant more than the stock in total', async () => {
  const storeId = randomUUID();
  for (const node of [a, b]) {
    const res = await node.request('POST', '/stores', { id: storeId, name: 'Bodega La Esquina' });
    expect([200, 201]).toContain(res.status);
  }
  const tillsA = await registerTills(a, storeId);
  const tillsB = await registerTills(b, storeId);
  const product = randomUUID();
  const sim = new DeviceSim(storeId, tillsA[0]!.id);
  const stocked = await a.request(
    'POST',
    '/sync/push',
    {
      store_id: storeId,
      device_id: tillsA[0]!.id,
      events: [
        sim.event('ProductCreated', { product_id: product, name: 'Harina PAN', price: 1.5 }),
        sim.event('StockReceived', { product_id: product, qty: STOCK }),
      ],
    },
    tillsA[0]!.headers,
  );
  expect(stocked.status).toBe(200);
  await eventually(
    'b sees the stock',
    () => rights(b, storeId, product),
    (r) => r.stock === STOCK,
  );
  // Stock entered at a: a holds every right, b none.
  expect((await rights(a, storeId, product)).rights).toBe(STOCK);
  expect((await rights(b, storeId, product)).rights).toBe(0);

  // b is short: the grant asks a for rights first, and a moves them.
  expect(await grant(tillsB[0]!, storeId, product, 10)).toBe(10);
  expect((await rights(b, storeId, product)).movedIn).toBe(10);
  // Before a planned cut, an admin moves more rights to b.
  const moved = await a.request<{ moved: number }>('POST', '/inventory/escrow/rights/transfer', {
    store_id: storeId,
    product_id: product,
    to_node: 'b',
    qty: 30,
  });
  expect(moved.body).toEqual({ moved: 30 });
  await eventually(
    'b holds the moved rights',
    () => rights(b, storeId, product),
    (r) => r.movedIn === 40,
  );
  await eventually('relays caught up', lagZero, Boolean);
  expect(await rights(b, storeId, product)).toMatchObject({ rights: 30, reserved: 10, stock: STOCK });
  expect(await rights(a, storeId, product)).toMatchObject({ rights: STOCK - 40, reserved: 10 });

  // The cut: neither node reaches the other (relays and rights requests fail alike).
  proxies.a!.cut = true;
  proxies.b!.cut = true;
  const during = { a: 0, b: 0 };
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      [...tillsA, ...tillsB].map(async (t) => {
        const got = await grant(t, storeId, product, 30);
        during[t.node.id as 'a' | 'b'] += got;
      }),
    );
  }
  // Both sides kept granting while cut off...
  expect(during.a).toBeGreaterThan(0);
  expect(during.b).toBeGreaterThan(0);
  // ...each from its own rights: a from what it kept, b from the 40 it was given (10 already used).
  expect(during.a).toBeLessThanOrEqual(STOCK - 40);
  expect(during.b).toBeLessThanOrEqual(30);
  // Each side alone still sees unreserved stock: without the rights, both would have kept granting.
  const viewA = await rights(a, storeId, product);
  const viewB = await rights(b, storeId, product);
  expect(viewA.stock - viewA.reserved).toBeGreaterThan(0);
  expect(viewB.stock - viewB.reserved).toBeGreaterThan(0);

  proxies.a!.cut = false;
  proxies.b!.cut = false;
  await eventually('relays caught up after the heal', lagZero, Boolean, 90_000);
  await eventually(
    'both nodes know every grant',
    async () => [await grantedOn(a, storeId, product), await grantedOn(b, storeId, product)],
    ([x, y]) => JSON.stringify(x) === JSON.stringify(y),
  );
  const total = await grantedOn(a, storeId, product);
  expect((total.a ?? 0) + (total.b ?? 0)).toBeLessThanOrEqual(STOCK);
  expect(total.a).toBe(during.a);
  expect(total.b).toBe(during.b + 10);
  for (const node of [a, b]) {
    const r = await rights(node, storeId, product);
    expect(r.rights).toBeGreaterThanOrEqual(0);
    expect(r.reserved).toBe((total.a ?? 0) + (total.b ?? 0));
  }
  await assertSameTables(a.db, b.db, ['a', 'b'], [storeId]);
}, 240_000);
