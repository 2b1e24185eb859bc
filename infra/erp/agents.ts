import type { Db } from '../db';
import { findAgent, upsertAgent, type ErpAgent } from '../repositories/erp-agents';
import { hashToken } from '../../domain/auth/tokens';
import { agentStatus, type StatusThresholds } from '../../domain/erp/agent-status';
import type { AgentView, RegisterAgentBody } from '../../domain/erp/schemas';
import { ApiError, AppError } from '../../domain/errors';
import { agentTokenMatches, hashAgentToken } from './agent-auth';

/**
 * Registers a vendor's agent (upsert). A vendor already registered keeps its registration unless the
 * caller proves it holds the current token (`currentToken`), so AGENT_SECRET alone cannot take over
 * another vendor's agent; an admin may replace it.
 */
export async function registerAgent(
  db: Db,
  body: RegisterAgentBody,
  caller: { admin: boolean },
): Promise<{ agent: ErpAgent; created: boolean }> {
  const existing = await findAgent(db, body.vendorId);
  if (existing && !caller.admin) {
    if (!body.currentToken || !(await agentTokenMatches(body.currentToken, existing.auth_token_hash))) {
      throw new AppError(
        401,
        ApiError.unauthorized,
        `vendor ${body.vendorId} is already registered: re-registering needs its current token (currentToken)`,
      );
    }
  }
  try {
    return await upsertAgent(db, {
      vendor_id: body.vendorId,
      agent_url: body.agentUrl,
      auth_token_hash: await hashAgentToken(body.authToken),
      token_lookup: hashToken(body.authToken),
      version: body.version ?? null,
      capabilities: body.capabilities ?? [],
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === '23505') {
      throw new AppError(
        400,
        ApiError.validationFailed,
        'authToken: choose another token (this one is in use)',
      );
    }
    throw err;
  }
}

export function agentView(a: ErpAgent, now: Date, t: StatusThresholds): AgentView {
  return {
    id: a.id,
    vendorId: a.vendor_id,
    agentUrl: a.agent_url,
    version: a.version,
    capabilities: a.capabilities,
    config: a.config,
    isActive: a.is_active,
    status: agentStatus(a.last_heartbeat_at, now, t),
    lastHeartbeatAt: a.last_heartbeat_at?.toISOString() ?? null,
    registeredAt: a.registered_at.toISOString(),
    updatedAt: a.updated_at.toISOString(),
  };
}
