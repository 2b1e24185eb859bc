import { hasDeviceTokenShape, hashToken, secretsEqual } from './tokens';
import { Lru } from './lru';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'peer'; peerId: string }
  | { kind: 'device'; deviceId: string; storeId: string };

export type AuthOutcome =
  | { status: 'ok'; principal: Principal }
  | { status: 'refused' }
  /** The client address spent its budget of refused credentials; `first` once per window. */
  | { status: 'throttled'; retryAfterMs: number; first: boolean };

export interface TokenResolverOptions {
  adminSecret: string;
  peers: readonly { id: string; token: string }[];
  /** The active device holding the token with this sha-256 (the database lookup). */
  lookupDevice: (tokenHash: string) => Promise<{ id: string; store_id: string } | undefined>;
  /** How long a device token found valid is trusted without a lookup (0 = never). */
  cacheTtlMs: number;
  /** Entries in each of the caches (good tokens, bad tokens, failure counters). */
  cacheMax: number;
  /** Refused credentials per client per window before that client is throttled. */
  failMax: number;
  failWindowMs: number;
  now?: () => number;
}

interface KnownDevice {
  principal: Extract<Principal, { kind: 'device' }>;
  verifiedAt: number;
}

interface FailureWindow {
  startedAt: number;
  count: number;
  throttled: boolean;
}

/**
 * Resolves bearer tokens to principals at a bounded database cost.
 *
 * - Admin and peer secrets are compared in constant time in memory.
 * - A device token is looked up by its sha-256 at most once per `cacheTtlMs`; tokens found bad
 *   (unknown, revoked, rotated away) are remembered and refused without a lookup.
 * - Each client address has a budget of refused credentials per window. Every attempt that may
 *   cost a lookup is charged before the lookup (and refunded when the token proves good), so
 *   concurrent floods stay within the budget too. Over budget, the client gets `throttled` for any
 *   token this process has not seen valid before — the tills of a shop keep working while a broken
 *   or hostile client behind the same address is held back.
 */
export function createTokenResolver(opts: TokenResolverOptions) {
  const now = opts.now ?? Date.now;
  const known = new Lru<string, KnownDevice>(opts.cacheMax);
  const bad = new Lru<string, true>(opts.cacheMax);
  const failures = new Lru<string, FailureWindow>(opts.cacheMax);
  const inFlight = new Map<string, Promise<{ id: string; store_id: string } | undefined>>();
  // Bumped by forgetDevice: a lookup that started before a revoke must not re-cache the old token.
  let epoch = 0;

  function windowOf(client: string): FailureWindow {
    const t = now();
    let w = failures.get(client);
    if (!w || t - w.startedAt >= opts.failWindowMs) {
      w = { startedAt: t, count: 0, throttled: false };
      failures.set(client, w);
    }
    return w;
  }

  /** Charges one attempt; returns the throttle outcome when the client has no budget left. */
  function charge(client: string): Extract<AuthOutcome, { status: 'throttled' }> | null {
    const w = windowOf(client);
    if (w.count >= opts.failMax) {
      const first = !w.throttled;
      w.throttled = true;
      return { status: 'throttled', retryAfterMs: w.startedAt + opts.failWindowMs - now(), first };
    }
    w.count += 1;
    return null;
  }

  function refund(client: string): void {
    const w = failures.get(client);
    if (w && w.count > 0) w.count -= 1;
  }

  function lookup(tokenHash: string) {
    let pending = inFlight.get(tokenHash);
    if (!pending) {
      pending = opts.lookupDevice(tokenHash).finally(() => inFlight.delete(tokenHash));
      inFlight.set(tokenHash, pending);
    }
    return pending;
  }

  async function resolve(token: string, client: string): Promise<AuthOutcome> {
    const tokenHash = hashToken(token);
    const cached = known.get(tokenHash);
    if (cached && now() - cached.verifiedAt < opts.cacheTtlMs) {
      return { status: 'ok', principal: cached.principal };
    }
    // Not charged: a token seen valid here (its cache entry gone stale) and a request joining a
    // lookup already under way for the same token (it costs nothing more).
    const charged = !cached && !inFlight.has(tokenHash);
    const throttled = charged ? charge(client) : null;
    if (throttled) return throttled;
    const settle = (outcome: AuthOutcome): AuthOutcome => {
      if (outcome.status === 'ok' && charged) refund(client);
      return outcome;
    };

    if (secretsEqual(token, opts.adminSecret)) return settle({ status: 'ok', principal: { kind: 'admin' } });
    let peerId: string | null = null;
    for (const peer of opts.peers) if (secretsEqual(token, peer.token)) peerId = peer.id;
    if (peerId) return settle({ status: 'ok', principal: { kind: 'peer', peerId } });
    if (!hasDeviceTokenShape(token) || bad.has(tokenHash)) return { status: 'refused' };

    const startedIn = epoch;
    const device = await lookup(tokenHash);
    if (!device) {
      known.delete(tokenHash);
      bad.set(tokenHash, true);
      return { status: 'refused' };
    }
    const principal = { kind: 'device', deviceId: device.id, storeId: device.store_id } as const;
    if (startedIn === epoch) known.set(tokenHash, { principal, verifiedAt: now() });
    return settle({ status: 'ok', principal });
  }

  /** Drops a device's cached tokens and refuses them from now on (after revoke or rotate). */
  function forgetDevice(deviceId: string): void {
    epoch += 1;
    const hashes = [...known.entries()].filter(([, v]) => v.principal.deviceId === deviceId).map(([k]) => k);
    for (const hash of hashes) {
      known.delete(hash);
      bad.set(hash, true);
    }
  }

  return { resolve, forgetDevice };
}

export type TokenResolver = ReturnType<typeof createTokenResolver>;
