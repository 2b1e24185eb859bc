import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerError, PeerClient } from '../../../../infra/peers/peer-client';
import { peerDigests } from '../../../../infra/reconcile/repair';

// A peer that answers 200 with whatever the test sets: the client must hold every answer to the
// wire contract (domain/wire/peer-protocol.ts) and turn anything else into a PeerError.

let server: Server;
let answer = '';
let client: PeerClient;
const STORE = '6f1c2a9e-0000-4000-8000-00000000abcd';

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new PeerClient(
    { id: 'odd', url: `http://127.0.0.1:${port}`, token: 'peer-token-0123456789' },
    { nodeId: 'here', timeoutMs: 2000 },
  );
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function failure(call: () => Promise<unknown>): Promise<PeerError> {
  const err = await call().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PeerError);
  return err as PeerError;
}

test.each([
  ['not JSON', '<html>captive portal</html>', /not JSON/],
  ['a push answer without its lists', JSON.stringify({ accepted: [] }), /duplicates/],
  [
    'ids that are not strings',
    JSON.stringify({ accepted: [1], duplicates: [], rejected: [], last_node_seq: null }),
    /accepted\.0/,
  ],
])('a push answered with %s is a permanent PEER_BAD_RESPONSE', async (_what, body, why) => {
  answer = body;
  const err = await failure(() => client.push(STORE, []));
  expect(err).toMatchObject({ code: 'PEER_BAD_RESPONSE', transient: false, status: 200 });
  expect(err.message).toMatch(why);
});

test('a well-formed answer comes back parsed', async () => {
  answer = JSON.stringify({ accepted: ['a'], duplicates: [], rejected: [], last_node_seq: 7 });
  await expect(client.push(STORE, [])).resolves.toEqual({
    accepted: ['a'],
    duplicates: [],
    rejected: [],
    last_node_seq: 7,
  });
});

test('a digest tree of the wrong shape stops the walk with a PeerError, not a crash later', async () => {
  answer = JSON.stringify({ store_id: STORE, level: 'day', buckets: [['2026-11-20', '12', 'ab']] });
  const err = await failure(() => peerDigests(client, STORE).days());
  expect(err.code).toBe('PEER_BAD_RESPONSE');
  expect(err.message).toMatch(/buckets\.0\.1/);
  answer = JSON.stringify({ store_id: STORE, events: [['id-only']] });
  expect((await failure(() => peerDigests(client, STORE).leaves(['2026-11-20T13']))).code).toBe(
    'PEER_BAD_RESPONSE',
  );
  answer = JSON.stringify({ store_id: STORE, events: [{ event_id: 'x' }], missing: [] });
  expect((await failure(() => client.fetch(STORE, [STORE]))).code).toBe('PEER_BAD_RESPONSE');
});

test('an escrow rights answer is held to the contract: a move count and the event, or null', async () => {
  answer = JSON.stringify({ moved: 3 });
  expect((await failure(() => client.escrowRights(STORE, STORE, 3))).code).toBe('PEER_BAD_RESPONSE');
  answer = JSON.stringify({ moved: -1, event: null });
  expect((await failure(() => client.escrowRights(STORE, STORE, 3))).message).toMatch(/moved/);
  answer = JSON.stringify({ moved: 0, event: null });
  await expect(client.escrowRights(STORE, STORE, 3)).resolves.toEqual({ moved: 0, event: null });
});
