import type { Client } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../../infra/config';
import type { Db } from '../../../infra/db';
import type { MappingResolver } from '../../../infra/erp/mappings';
import type { Metrics } from '../../../infra/metrics';
import { hashToken } from '../../../domain/auth/tokens';
import { ApiError, AppError } from '../../../domain/errors';
import type { AgentPrincipal } from '../../plugins/auth';

/** What the ERP bridge's routes share. */
export interface ErpContext {
  config: Config;
  db: Db;
  metrics: Metrics;
  temporal?: Client;
  mappings: MappingResolver;
  checkTemporal: () => Promise<void>;
  /** After a store → vendor mapping is set or removed (the order producer's cached check). */
  onStoreVendorsChanged?: () => void;
}

const MINUTE = 60_000;

/** Rate-limit key: the credential (one budget per agent or API key), else the client address. */
const byCredential = (req: FastifyRequest) => {
  const cred = req.headers.authorization ?? req.headers['x-api-key'];
  return typeof cred === 'string' ? `erp:${hashToken(cred)}` : `erp-ip:${req.ip}`;
};

/** Route configs: who may call, and the seed's rate limits (REQ-13), configurable. */
export function erpRouteConfigs(config: Config) {
  const limit = (max: number, keyGenerator = byCredential) => ({ max, timeWindow: MINUTE, keyGenerator });
  return {
    admin: { auth: ['admin' as const], apiKey: true, rateLimit: limit(config.ERP_RATE_LIMIT_ADMIN) },
    register: {
      auth: ['admin' as const, 'agent-registration' as const],
      rateLimit: limit(config.ERP_RATE_LIMIT_REGISTER, (req: FastifyRequest) => `erp-register:${req.ip}`),
    },
    heartbeat: { auth: ['agent' as const], rateLimit: limit(config.ERP_RATE_LIMIT_HEARTBEAT) },
    sync: { auth: ['agent' as const], rateLimit: limit(config.ERP_RATE_LIMIT_SYNC) },
    batch: { auth: ['agent' as const], rateLimit: limit(config.ERP_RATE_LIMIT_BATCH) },
  };
}

/** The calling agent, which may act for its own vendor only. */
export function agentFor(request: FastifyRequest, vendorId?: string): AgentPrincipal {
  const agent = request.agent;
  if (!agent) throw new AppError(401, ApiError.unauthorized, 'this route needs an agent token');
  if (vendorId !== undefined && agent.vendorId !== vendorId) {
    throw new AppError(
      403,
      ApiError.forbidden,
      `vendorId: this agent token belongs to vendor ${agent.vendorId}`,
    );
  }
  return agent;
}

/** Who did an admin action (the audit log): never the secret itself. */
export function adminActor(request: FastifyRequest): string {
  return request.headers['x-api-key'] !== undefined ? 'admin:api-key' : 'admin:bearer';
}

export const offsetOf = (q: { page: number; limit: number }) => ({
  limit: q.limit,
  offset: (q.page - 1) * q.limit,
});
