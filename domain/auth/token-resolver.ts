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
  /** Credentials refused in this window. */
  failures: number;
  /** Attempts admitted and not yet settled (a lookup under way): they may still fail. */
  reserved: number;
  throttled: boolean;
  /** Resolves when a reservation settles; attempts waiting for budget then look again. */
  settled: Promise<void> | null;
  wake: () => void;
}

type Throttled = Extract<AuthOutcome, { status: 'throttled' }>;

/**
 * Resolves bearer tokens to principals at a bounded database cost.
 *
 * - Admin and peer secrets are compared in constant time in memory.
 * - A device token is looked up by its sha-256 at most once per `cacheTtlMs`; tokens found bad
 *   (unknown, revoked, rotated away) are remembered and refused without a lookup.
 * - Each client address has a budget of `failMax` refused credentials per window. An attempt that
 *   may fail reserves budget before any lookup, so concurrent floods cannot overrun it; when the
 *   budget is only held by lookups still under way, further attempts wait for them instead of
 *   being refused (fifty tills behind one router starting at once are not throttled). Over budget
 *   the client gets `throttled` for any token this process has not seen valid — a shop's tills
 *   keep working while a broken or hostile client behind the same address is held back.
 */
export function createTokenResolver(opts: TokenResolverOptions) {
  const now = opts.now ?? Date.now;
  const known = new Lru<string, KnownDevice>(opts.cacheMax);
  const bad = new Lru<string, true>(opts.cacheMax);
  const windows = new Lru<string, FailureWindow>(opts.cacheMax);
  const inFlight = new Map<string, Promise<{ id: string; store_id: string } | undefined>>();
  // Bumped by forgetDevice: a lookup that started before a revoke must not re-cache the old token.
  let epoch = 0;

  function windowOf(client: string): FailureWindow {
    const t = now();
    let w = windows.get(client);
    if (!w || t - w.startedAt >= opts.failWindowMs) {
      w = { startedAt: t, failures: 0, reserved: 0, throttled: false, settled: null, wake: () => {} };
      windows.set(client, w);
    }
    return w;
  }

  function throttle(w: FailureWindow): Throttled {
    const first = !w.throttled;
    w.throttled = true;
    return { status: 'throttled', retryAfterMs: w.startedAt + opts.failWindowMs - now(), first };
  }

  /** Reserves one attempt of the client's budget (synchronously when there is room). */
  function admit(client: string): FailureWindow | Throttled | Promise<FailureWindow | Throttled> {
    const w = windowOf(client);
    if (w.failures >= opts.failMax) return throttle(w);
    if (w.failures + w.reserved < opts.failMax) {
      w.reserved += 1;
      return w;
    }
    w.settled ??= new Promise<void>((resolve) => (w.wake = resolve));
    return w.settled.then(() => admit(client));
  }

  function release(w: FailureWindow, failed: boolean): void {
    w.reserved -= 1;
    if (failed) w.failures += 1;
    const wake = w.wake;
    w.settled = null;
    wake();
  }

  function lookup(tokenHash: string) {
    let pending = inFlight.get(tokenHash);
    if (!pending) {
      pending = opts.lookupDevice(tokenHash).finally(() => inFlight.delete(tokenHash));
      inFlight.set(tokenHash, pending);
    }
    return pending;
  }

  async function check(token: string, tokenHash: string): Promise<AuthOutcome> {
    if (secretsEqual(token, opts.adminSecret)) return { status: 'ok', principal: { kind: 'admin' } };
    let peerId: string | null = null;
    for (const peer of opts.peers) if (secretsEqual(token, peer.token)) peerId = peer.id;
    if (peerId) return { status: 'ok', principal: { kind: 'peer', peerId } };
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
    return { status: 'ok', principal };
  }

  async function resolve(token: string, client: string): Promise<AuthOutcome> {
    const tokenHash = hashToken(token);
    const cached = known.get(tokenHash);
    if (cached && now() - cached.verifiedAt < opts.cacheTtlMs) {
      return { status: 'ok', principal: cached.principal };
    }
    // Free: a token seen valid here (its cache entry gone stale) and a request joining a lookup
    // already under way for the same token (it costs nothing more).
    if (cached || inFlight.has(tokenHash)) return check(token, tokenHash);
    let admitted = admit(client);
    if (admitted instanceof Promise) admitted = await admitted;
    if ('status' in admitted) return admitted;
    const w = admitted;
    let failed = false;
    try {
      const outcome = await check(token, tokenHash);
      failed = outcome.status === 'refused';
      return outcome;
    } finally {
      // A lookup that threw (database down) releases its reservation without counting.
      release(w, failed);
    }
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
