import { createTokenResolver, type TokenResolverOptions } from '../../../../domain/auth/token-resolver';
import { hashToken, newDeviceToken } from '../../../../domain/auth/tokens';

const ADMIN = 'admin-secret-0123456789';
const PEER = 'peer-token-0123456789';

/** A resolver over an in-memory device table, counting lookups, on a clock the test moves. */
function setup(over: Partial<TokenResolverOptions> = {}) {
  const devices = new Map<string, { id: string; store_id: string }>();
  const clock = { t: 1_000_000 };
  const calls = { lookups: 0 };
  let release: (() => void) | null = null;
  const gate = { hold: false };
  const resolver = createTokenResolver({
    adminSecret: ADMIN,
    peers: [{ id: 'cloud', token: PEER }],
    lookupDevice: async (hash) => {
      calls.lookups += 1;
      // Read first, answer later: a query that saw the row before a concurrent revoke committed.
      const row = devices.get(hash);
      if (gate.hold) await new Promise<void>((r) => (release = r));
      return row;
    },
    cacheTtlMs: 2000,
    cacheMax: 100,
    failMax: 3,
    failWindowMs: 60_000,
    now: () => clock.t,
    ...over,
  });
  const addDevice = (id: string, store = 'store-1') => {
    const token = newDeviceToken();
    devices.set(hashToken(token), { id, store_id: store });
    return token;
  };
  return { resolver, devices, clock, calls, addDevice, gate, release: () => release?.() };
}

test('admin and peer secrets resolve without lookups', async () => {
  const { resolver, calls } = setup();
  expect(await resolver.resolve(ADMIN, 'c')).toEqual({ status: 'ok', principal: { kind: 'admin' } });
  expect(await resolver.resolve(PEER, 'c')).toEqual({
    status: 'ok',
    principal: { kind: 'peer', peerId: 'cloud' },
  });
  expect(calls.lookups).toBe(0);
});

test('a device token is looked up once per TTL', async () => {
  const { resolver, calls, clock, addDevice } = setup();
  const token = addDevice('d1');
  for (let i = 0; i < 10; i++) {
    expect(await resolver.resolve(token, 'c')).toMatchObject({ status: 'ok', principal: { deviceId: 'd1' } });
  }
  expect(calls.lookups).toBe(1);
  clock.t += 2000;
  await resolver.resolve(token, 'c');
  expect(calls.lookups).toBe(2);
});

test('TTL 0 looks up every request', async () => {
  const { resolver, calls, addDevice } = setup({ cacheTtlMs: 0 });
  const token = addDevice('d1');
  for (let i = 0; i < 3; i++) await resolver.resolve(token, 'c');
  expect(calls.lookups).toBe(3);
});

test('malformed tokens are refused without a lookup; known-bad ones are not looked up again', async () => {
  const { resolver, calls } = setup({ failMax: 100 });
  expect(await resolver.resolve('vxd_short', 'c')).toEqual({ status: 'refused' });
  expect(await resolver.resolve('garbage', 'c')).toEqual({ status: 'refused' });
  expect(calls.lookups).toBe(0);
  const bogus = newDeviceToken();
  for (let i = 0; i < 5; i++) expect(await resolver.resolve(bogus, 'c')).toEqual({ status: 'refused' });
  expect(calls.lookups).toBe(1);
});

test('refused credentials spend the address budget; then 429 with the rest of the window', async () => {
  const { resolver, calls, clock, addDevice } = setup();
  const good = addDevice('d1');
  for (let i = 0; i < 3; i++) expect((await resolver.resolve(newDeviceToken(), 'c')).status).toBe('refused');
  clock.t += 10_000;
  expect(await resolver.resolve(newDeviceToken(), 'c')).toEqual({
    status: 'throttled',
    retryAfterMs: 50_000,
    first: true,
  });
  expect((await resolver.resolve(ADMIN, 'c')).status).toBe('throttled');
  expect(await resolver.resolve(good, 'c')).toMatchObject({ status: 'throttled', first: false });
  expect(calls.lookups).toBe(3);
  // Other addresses are unaffected, and the window ends.
  expect((await resolver.resolve(ADMIN, 'other')).status).toBe('ok');
  clock.t += 50_000;
  expect((await resolver.resolve(good, 'c')).status).toBe('ok');
});

test('successes do not spend the budget', async () => {
  const { resolver, addDevice } = setup();
  const token = addDevice('d1');
  for (let i = 0; i < 10; i++) {
    expect((await resolver.resolve(ADMIN, 'c')).status).toBe('ok');
    expect((await resolver.resolve(token, 'c')).status).toBe('ok');
  }
  expect((await resolver.resolve(newDeviceToken(), 'c')).status).toBe('refused');
});

test('a token seen valid passes a throttled address (re-checked once its cache entry is stale)', async () => {
  const { resolver, calls, clock, addDevice } = setup();
  const token = addDevice('d1');
  expect((await resolver.resolve(token, 'nat')).status).toBe('ok');
  for (let i = 0; i < 4; i++) await resolver.resolve(newDeviceToken(), 'nat');
  expect((await resolver.resolve(newDeviceToken(), 'nat')).status).toBe('throttled');
  expect((await resolver.resolve(token, 'nat')).status).toBe('ok');
  clock.t += 5000;
  const lookups = calls.lookups;
  expect((await resolver.resolve(token, 'nat')).status).toBe('ok');
  expect(calls.lookups).toBe(lookups + 1);
});

test('concurrent bogus tokens cannot overrun the budget', async () => {
  const { resolver, calls } = setup();
  const outcomes = await Promise.all(
    Array.from({ length: 50 }, () => resolver.resolve(newDeviceToken(), 'c')),
  );
  expect(outcomes.filter((o) => o.status === 'refused')).toHaveLength(3);
  expect(outcomes.filter((o) => o.status === 'throttled')).toHaveLength(47);
  expect(calls.lookups).toBe(3);
});

test('concurrent requests with one token share one lookup and one charge', async () => {
  const { resolver, calls, addDevice, gate, release } = setup();
  const token = addDevice('d1');
  gate.hold = true;
  // More than the budget of 3: joining a lookup under way costs no budget.
  const pending = Array.from({ length: 5 }, () => resolver.resolve(token, 'c'));
  await new Promise((r) => setImmediate(r));
  release();
  expect((await Promise.all(pending)).every((o) => o.status === 'ok')).toBe(true);
  expect(calls.lookups).toBe(1);
});

test('forgetDevice refuses the cached token at once, without a lookup', async () => {
  const { resolver, calls, devices, addDevice } = setup();
  const token = addDevice('d1');
  const other = addDevice('d2');
  await resolver.resolve(token, 'c');
  await resolver.resolve(other, 'c');
  devices.delete(hashToken(token)); // revoked in the database
  resolver.forgetDevice('d1');
  const lookups = calls.lookups;
  expect(await resolver.resolve(token, 'c')).toEqual({ status: 'refused' });
  expect((await resolver.resolve(other, 'c')).status).toBe('ok');
  expect(calls.lookups).toBe(lookups);
});

test('a lookup in flight while the device is revoked does not re-cache its token', async () => {
  const { resolver, devices, addDevice, gate, release } = setup();
  const token = addDevice('d1');
  gate.hold = true;
  const pending = resolver.resolve(token, 'c');
  await new Promise((r) => setImmediate(r));
  devices.delete(hashToken(token));
  resolver.forgetDevice('d1');
  release();
  expect((await pending).status).toBe('ok'); // it was valid when read
  gate.hold = false;
  expect(await resolver.resolve(token, 'c')).toEqual({ status: 'refused' });
});

test('more first-time valid tokens at once than the budget are all accepted (they wait, not 429)', async () => {
  const { resolver, calls, addDevice } = setup();
  const tokens = Array.from({ length: 20 }, (_, i) => addDevice(`till-${i}`));
  const outcomes = await Promise.all(tokens.map((t) => resolver.resolve(t, 'shop-router')));
  expect(outcomes.map((o) => o.status)).toEqual(tokens.map(() => 'ok'));
  expect(calls.lookups).toBe(20);
  // Nothing was spent: the shop's budget is whole.
  for (let i = 0; i < 3; i++)
    expect((await resolver.resolve(newDeviceToken(), 'shop-router')).status).toBe('refused');
  expect((await resolver.resolve(newDeviceToken(), 'shop-router')).status).toBe('throttled');
});

test('a lookup that fails (database down) neither counts as refused nor keeps its reservation', async () => {
  let down = true;
  const resolver = createTokenResolver({
    adminSecret: ADMIN,
    peers: [],
    lookupDevice: async () => {
      if (down) throw new Error('connection refused');
      return undefined;
    },
    cacheTtlMs: 2000,
    cacheMax: 100,
    failMax: 3,
    failWindowMs: 60_000,
  });
  for (let i = 0; i < 10; i++)
    await expect(resolver.resolve(newDeviceToken(), 'c')).rejects.toThrow(/refused/);
  down = false;
  for (let i = 0; i < 3; i++) expect((await resolver.resolve(newDeviceToken(), 'c')).status).toBe('refused');
  expect((await resolver.resolve(newDeviceToken(), 'c')).status).toBe('throttled');
});
