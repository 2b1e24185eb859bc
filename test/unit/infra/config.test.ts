import { loadConfig } from '../../../infra/config';

const ADMIN = 'admin-secret-0123456789';
const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x', ADMIN_SECRET: ADMIN, NODE_ID: 'shop-1' };
const peer = (id: string, token: string) => ({ id, url: `http://${id}.example:3000`, token });
const withPeers = (...peers: ReturnType<typeof peer>[]) => ({ ...base, PEERS: JSON.stringify(peers) });

describe('loadConfig refuses credentials that would name more than one caller', () => {
  test('a peer token equal to ADMIN_SECRET stops the boot naming PEERS', () => {
    expect(() => loadConfig(withPeers(peer('cloud', ADMIN)))).toThrow(
      /PEERS\.0\.token: peer "cloud" has the same token as ADMIN_SECRET/,
    );
  });

  test('two peers with one token', () => {
    const token = 'shared-peer-token-0123456789';
    expect(() => loadConfig(withPeers(peer('cloud', token), peer('backup', token)))).toThrow(
      /PEERS\.1\.token: peers "cloud" and "backup" share one token/,
    );
  });

  test('a peer id listed twice, or equal to NODE_ID', () => {
    expect(() =>
      loadConfig(withPeers(peer('cloud', 'token-one-0123456789'), peer('cloud', 'token-two-0123456789'))),
    ).toThrow(/PEERS\.1\.id: peer id "cloud" is listed twice/);
    expect(() => loadConfig(withPeers(peer('shop-1', 'token-one-0123456789')))).toThrow(
      /PEERS\.0\.id: peer "shop-1" is this node's own NODE_ID/,
    );
  });

  test('admin and peer secrets may not look like device tokens', () => {
    expect(() => loadConfig({ ...base, ADMIN_SECRET: 'vxd_admin-secret-0123456789' })).toThrow(
      /ADMIN_SECRET: must not start with "vxd_"/,
    );
    expect(() => loadConfig(withPeers(peer('cloud', 'vxd_peer-token-0123456789')))).toThrow(
      /PEERS\.0\.token: peer "cloud": token must not start with "vxd_"/,
    );
  });

  test('the secrets themselves never appear in the message', () => {
    try {
      loadConfig(withPeers(peer('cloud', ADMIN)));
      throw new Error('expected a configuration error');
    } catch (err) {
      expect((err as Error).message).not.toContain(ADMIN);
    }
  });

  test('distinct peers with distinct tokens are accepted', () => {
    const config = loadConfig(
      withPeers(peer('cloud', 'token-one-0123456789'), peer('backup', 'token-two-0123456789')),
    );
    expect(config.PEERS.map((p) => p.id)).toEqual(['cloud', 'backup']);
  });
});

describe('auth and docs settings', () => {
  test('defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      DOCS_ENABLED: true,
      AUTH_FAIL_MAX: 20,
      AUTH_FAIL_WINDOW_MS: 60_000,
      AUTH_CACHE_TTL_MS: 2000,
      AUTH_CACHE_MAX: 10_000,
      TRUST_PROXY: false,
    });
  });

  test('DOCS_ENABLED takes true/false/1/0 and nothing else', () => {
    expect(loadConfig({ ...base, DOCS_ENABLED: 'false' }).DOCS_ENABLED).toBe(false);
    expect(loadConfig({ ...base, DOCS_ENABLED: '0' }).DOCS_ENABLED).toBe(false);
    expect(loadConfig({ ...base, DOCS_ENABLED: '1' }).DOCS_ENABLED).toBe(true);
    expect(() => loadConfig({ ...base, DOCS_ENABLED: 'no' })).toThrow(/DOCS_ENABLED: must be true or false/);
  });

  test('AUTH_CACHE_TTL_MS may be 0 (look up every request); TRUST_PROXY takes a list', () => {
    expect(loadConfig({ ...base, AUTH_CACHE_TTL_MS: '0' }).AUTH_CACHE_TTL_MS).toBe(0);
    expect(loadConfig({ ...base, TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
  });
});

describe('HTTP timeouts', () => {
  test('the defaults leave a relay push its whole client timeout, and keep-alive outlives a 60 s load balancer', () => {
    const c = loadConfig(base);
    expect([c.HTTP_HEADERS_TIMEOUT_MS, c.HTTP_REQUEST_TIMEOUT_MS, c.HTTP_KEEP_ALIVE_TIMEOUT_MS]).toEqual([
      10_000, 120_000, 65_000,
    ]);
    // A peer gives up on a push after RELAY_HTTP_TIMEOUT_MS; this node must not cut it off sooner.
    expect(c.HTTP_REQUEST_TIMEOUT_MS).toBeGreaterThan(c.RELAY_HTTP_TIMEOUT_MS);
  });

  test('a headers timeout above the request timeout stops the boot', () => {
    expect(() =>
      loadConfig({ ...base, HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' }),
    ).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });
});
