import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { secretsEqual } from '../../core/auth/tokens';
import type { Config } from '../../core/config';
import type { Db } from '../../core/db';
import { findDeviceByToken } from '../../core/stores/repository';
import { AppError } from '../errors';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'peer'; peerId: string }
  | { kind: 'device'; deviceId: string; storeId: string };

export type Role = Principal['kind'];

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route; absent = public (liveness, metrics, docs). */
    auth?: Role[];
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

/**
 * Resolves `Authorization: Bearer …` to a principal: the admin secret, a peer's shared token (both
 * compared in constant time) or a device token (looked up by its sha-256). Routes declare the roles
 * they accept in `config.auth`; everything else is refused before the body is even validated.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { config: Config; db: Db }) => {
  const { config, db } = opts;
  app.decorateRequest('principal', null);

  async function resolve(token: string): Promise<Principal | null> {
    if (secretsEqual(token, config.ADMIN_SECRET)) return { kind: 'admin' };
    let peerId: string | null = null;
    for (const peer of config.PEERS) if (secretsEqual(token, peer.token)) peerId = peer.id;
    if (peerId) return { kind: 'peer', peerId };
    if (!token.startsWith('vxd_')) return null;
    const device = await findDeviceByToken(db, token);
    return device ? { kind: 'device', deviceId: device.id, storeId: device.store_id } : null;
  }

  app.addHook('onRequest', async (request) => {
    const roles = request.routeOptions.config.auth;
    if (!roles) return;
    const token = bearer(request);
    if (token === null) throw new AppError(401, 'UNAUTHORIZED', 'missing Authorization: Bearer token');
    const principal = token ? await resolve(token) : null;
    if (!principal) throw new AppError(401, 'UNAUTHORIZED', 'invalid or revoked token');
    if (!roles.includes(principal.kind)) {
      throw new AppError(403, 'FORBIDDEN', `this route needs a ${roles.join(' or ')} token`);
    }
    request.principal = principal;
  });
});

/** The principal of an authenticated route (the hook guarantees it is set). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError(401, 'UNAUTHORIZED', 'not authenticated');
  return request.principal;
}

/** Devices may only act for their own store. */
export function assertStoreAccess(principal: Principal, storeId: string, field = 'store_id'): void {
  if (principal.kind === 'device' && principal.storeId !== storeId.toLowerCase()) {
    throw new AppError(403, 'FORBIDDEN', `${field}: this device token belongs to another store`);
  }
}
