import { createServer, type Server, type Socket } from 'node:net';
import { sql } from 'kysely';
import { createDb } from '../../infra/db';

// A PostgreSQL that shuts down (pg_ctl stop -m fast) while a connection is being opened sends the
// new session's ReadyForQuery and, at once, FATAL 57P01 "terminating connection due to administrator
// command" — often in one TCP segment. pg parses both in one go: the pool has taken its idle error
// listener off the client to hand it out, and the one infra/db adds on checkout is not on yet, so the
// client emitted 'error' with no listener and the process died (found by test/chaos: an API process
// exited during a PostgreSQL restart). This stands in for that server: it accepts the startup
// message, answers AuthenticationOk + ReadyForQuery + the FATAL in one write, and closes.

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

const fields = (f: Record<string, string>) =>
  Buffer.concat([...Object.entries(f).map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8')), Buffer.from([0])]);

const shuttingDown = Buffer.concat([
  message('R', int32(0)),
  message('Z', Buffer.from('I')),
  message(
    'E',
    fields({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' }),
  ),
]);

let server: Server;
let port: number;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.end(shuttingDown);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

test('a session killed by a server shutdown right as it opens fails its query and does not crash the process', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  // Jest keeps its own handler; this one only records what would have killed a node process.
  process.on('uncaughtException', onUncaught);
  const db = createDb(`postgres://velox:velox@127.0.0.1:${port}/velox`, { poolSize: 4 });
  try {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => sql`SELECT 1`.execute(db)));
    // Every query fails (the server is gone): an error for the caller (a 503), not for the process.
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    await db.destroy();
  }
});
