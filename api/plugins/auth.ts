import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createTokenResolver, type Principal, type TokenResolver } from '../../domain/auth/token-resolver';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { findDeviceByTokenHash } from '../../infra/repositories/devices';
import {
  createAgentAuthenticator,
  type AgentAuthenticator,
  type AgentPrincipal,
} from '../../infra/erp/agent-auth';
import { secretsEqual } from '../../domain/auth/tokens';
import { ApiError, AppError } from '../../domain/errors';

export type { Principal } from '../../domain/auth/token-resolver';
export type { AgentPrincipal } from '../../infra/erp/agent-auth';
export type Role = Principal['kind'];
/**
 * Roles a route may list: the node's, plus the ERP bridge's agents (their own token) and agent
 * registration (the shared AGENT_SECRET).
 */
export type RouteRole = Role | 'agent' | 'agent-registration';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The ERP agent a route with role `agent` was called by. */
    agent: AgentPrincipal | null;
    /** Whether the caller presented AGENT_SECRET (role `agent-registration`). */
    agentRegistration: boolean;
  }
  interface FastifyInstance {
    /** Token resolution and its caches; routes that revoke or rotate call `forgetDevice`. */
    auth: Pick<TokenResolver, 'forgetDevice'> & { forgetAgent: AgentAuthenticator['forgetVendor'] };
  }
  interface FastifyContextConfig {
    /** Who may call the route; absent = public (liveness, metrics, docs). */
    auth?: RouteRole[];
    /** The ERP admin routes also accept the seed's `X-API-Key` (API_SECRET, else ADMIN_SECRET). */
    apiKey?: boolean;
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

/**
 * Resolves `Authorization: Bearer …` to a principal (see `createTokenResolver` for the caches and
 * the per-address budget of refused credentials). Routes declare the roles they accept in
 * `config.auth`; public routes (`/healthz`, `/metrics`, `/docs`) never enter this path, and
 * everything else is refused before the body is even validated.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { config: Config; db: Db }) => {
  const { config, db } = opts;
  const resolver = createTokenResolver({
    adminSecret: config.ADMIN_SECRET,
    peers: config.PEERS,
    lookupDevice: (tokenHash) => findDeviceByTokenHash(db, tokenHash),
    cacheTtlMs: config.AUTH_CACHE_TTL_MS,
    cacheMax: config.AUTH_CACHE_MAX,
    failMax: config.AUTH_FAIL_MAX,
    failWindowMs: config.AUTH_FAIL_WINDOW_MS,
  });
  const agents = createAgentAuthenticator(db, { ttlMs: 60_000, max: config.AUTH_CACHE_MAX });
  const apiSecret = config.API_SECRET ?? config.ADMIN_SECRET;
  app.decorate('auth', { forgetDevice: resolver.forgetDevice, forgetAgent: agents.forgetVendor });
  app.decorateRequest('principal', null);
  app.decorateRequest('agent', null);
  app.decorateRequest('agentRegistration', false);

  app.addHook('onRequest', async (request, reply) => {
    const roles = request.routeOptions.config.auth;
    if (!roles) return;
    const apiKey = request.headers['x-api-key'];
    if (request.routeOptions.config.apiKey && apiKey !== undefined) {
      if (typeof apiKey !== 'string' || !secretsEqual(apiKey, apiSecret)) {
        throw new AppError(401, ApiError.unauthorized, 'invalid X-API-Key');
      }
      request.principal = { kind: 'admin' };
      return;
    }
    const token = bearer(request);
    if (token === null) throw new AppError(401, ApiError.unauthorized, 'missing Authorization: Bearer token');
    if (
      roles.includes('agent-registration') &&
      config.AGENT_SECRET &&
      secretsEqual(token, config.AGENT_SECRET)
    ) {
      request.agentRegistration = true;
      return;
    }
    if (roles.includes('agent') && token !== '') {
      const agent = await agents.verify(token);
      if (agent) {
        request.agent = agent;
        return;
      }
    }
    const outcome = await resolver.resolve(token, request.ip);
    if (outcome.status === 'throttled') {
      const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
      if (outcome.first) {
        request.log.warn({ client: request.ip }, 'too many refused credentials; throttling this address');
      }
      reply.header('retry-after', String(seconds));
      throw new AppError(
        429,
        ApiError.rateLimited,
        `too many failed authentication attempts from this address; retry in ${seconds} s`,
      );
    }
    if (outcome.status === 'refused')
      throw new AppError(401, ApiError.unauthorized, 'invalid or revoked token');
    if (!(roles as string[]).includes(outcome.principal.kind)) {
      throw new AppError(403, ApiError.forbidden, `this route needs a ${roles.join(' or ')} token`);
    }
    request.principal = outcome.principal;
  });
});

/** The principal of an authenticated route (the hook guarantees it is set). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError(401, ApiError.unauthorized, 'not authenticated');
  return request.principal;
}

/** Devices may only act for their own store. */
export function assertStoreAccess(principal: Principal, storeId: string, field = 'store_id'): void {
  if (principal.kind === 'device' && principal.storeId !== storeId.toLowerCase()) {
    throw new AppError(403, ApiError.forbidden, `${field}: this device token belongs to another store`);
  }
}
