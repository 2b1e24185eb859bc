import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db';
import { findAgentByTokenLookup } from '../repositories/erp-agents';
import { hashToken } from '../../domain/auth/tokens';

// Agent tokens: found by their sha-256 (one index lookup), then checked against the bcrypt hash the
// seed asks for. A token found good is trusted for `ttlMs` without another bcrypt compare (10
// rounds cost tens of ms, more than the whole ingest budget of a push); re-registering or
// deregistering forgets the vendor's tokens in this process at once, in other API replicas within
// the TTL.

export interface AgentPrincipal {
  kind: 'agent';
  vendorId: string;
  agentId: string;
}

export const AGENT_TOKEN_BCRYPT_ROUNDS = 10;

export function hashAgentToken(token: string): Promise<string> {
  return bcrypt.hash(token, AGENT_TOKEN_BCRYPT_ROUNDS);
}

export function agentTokenMatches(token: string, hash: string): Promise<boolean> {
  return bcrypt.compare(token, hash);
}

export interface AgentAuthenticator {
  verify(token: string): Promise<AgentPrincipal | null>;
  forgetVendor(vendorId: string): void;
}

export function createAgentAuthenticator(db: Db, opts: { ttlMs: number; max: number }): AgentAuthenticator {
  const known = new LRUCache<string, AgentPrincipal>({ max: opts.max, ttl: Math.max(1, opts.ttlMs) });
  return {
    async verify(token) {
      const lookup = hashToken(token);
      const hit = opts.ttlMs > 0 ? known.get(lookup) : undefined;
      if (hit) return hit;
      const agent = await findAgentByTokenLookup(db, lookup);
      if (!agent || !agent.is_active) return null;
      if (!(await agentTokenMatches(token, agent.auth_token_hash))) return null;
      const principal: AgentPrincipal = { kind: 'agent', vendorId: agent.vendor_id, agentId: agent.id };
      if (opts.ttlMs > 0) known.set(lookup, principal);
      return principal;
    },
    forgetVendor(vendorId) {
      for (const [k, v] of known.entries()) if (v.vendorId === vendorId) known.delete(k);
    },
  };
}
