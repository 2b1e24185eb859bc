import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { agentView, registerAgent } from '../../../infra/erp/agents';
import {
  deleteAgent,
  findAgent,
  listAgents,
  recordHeartbeat,
  updateAgent,
} from '../../../infra/repositories/erp-agents';
import { audit } from '../../../infra/repositories/erp-audit-log';
import {
  agentViewSchema,
  heartbeatBodySchema,
  pageMetaSchema,
  pageOf,
  pageQuerySchema,
  registerAgentBodySchema,
  updateAgentBodySchema,
  vendorIdSchema,
} from '../../../domain/erp/schemas';
import { ApiError, AppError } from '../../../domain/errors';
import { errorResponses } from '../../errors';
import { adminActor, agentFor, erpRouteConfigs, offsetOf, type ErpContext } from './context';

const tags = ['erp'];
const vendorParams = z.object({ vendorId: vendorIdSchema });

/** REQ-3: agents register, beat, and are managed by admins (under /api/agents and /api/admin/agents). */
export const erpAgentRoutes: FastifyPluginAsyncZod<ErpContext> = async (app, ctx) => {
  const { db, config } = ctx;
  const routes = erpRouteConfigs(config);
  const thresholds = {
    degradedMs: config.ERP_AGENT_DEGRADED_SECONDS * 1000,
    offlineMs: config.ERP_AGENT_OFFLINE_SECONDS * 1000,
  };
  const view = (a: Parameters<typeof agentView>[0]) => agentView(a, new Date(), thresholds);

  app.post(
    '/api/agents/register',
    {
      config: routes.register,
      schema: {
        tags,
        summary: 'Agent self-registration (upsert) with AGENT_SECRET; re-registering needs the current token',
        body: registerAgentBodySchema,
        response: { 200: agentViewSchema, 201: agentViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!request.agentRegistration && request.principal?.kind !== 'admin') {
        throw new AppError(503, ApiError.agentRegistrationDisabled, 'AGENT_SECRET is not set on this node');
      }
      const { agent, created } = await registerAgent(db, request.body, {
        admin: request.principal?.kind === 'admin',
      });
      app.auth.forgetAgent(agent.vendor_id);
      request.log.info({ vendorId: agent.vendor_id, created }, 'erp agent registered');
      return reply.status(created ? 201 : 200).send(view(agent));
    },
  );

  app.post(
    '/api/agents/heartbeat',
    {
      config: routes.heartbeat,
      schema: {
        tags,
        summary: 'Agent heartbeat (every 30 s): keeps the agent online',
        body: heartbeatBodySchema,
        response: { 200: agentViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { vendorId, version, ...info } = request.body;
      agentFor(request, vendorId);
      const agent = await recordHeartbeat(db, vendorId, info, version);
      if (!agent)
        throw new AppError(404, ApiError.agentNotFound, `no agent is registered for vendor ${vendorId}`);
      return view(agent);
    },
  );

  const listSchema = z.object({ data: z.array(agentViewSchema), meta: pageMetaSchema });
  const list = async (q: z.infer<typeof pageQuerySchema>) => {
    const { rows, total } = await listAgents(db, offsetOf(q));
    return pageOf(rows.map(view), total, q);
  };
  const get = async (vendorId: string) => {
    const agent = await findAgent(db, vendorId);
    if (!agent)
      throw new AppError(404, ApiError.agentNotFound, `no agent is registered for vendor ${vendorId}`);
    return view(agent);
  };
  const remove = async (vendorId: string, actor: string) => {
    const agent = await findAgent(db, vendorId);
    if (!agent || !(await deleteAgent(db, vendorId))) {
      throw new AppError(404, ApiError.agentNotFound, `no agent is registered for vendor ${vendorId}`);
    }
    app.auth.forgetAgent(vendorId);
    await audit(db, { actor, action: 'agent.deregister', target_type: 'agent', target_id: vendorId });
    return view(agent);
  };

  for (const prefix of ['/api/agents', '/api/admin/agents']) {
    app.get(
      prefix,
      {
        config: routes.admin,
        schema: {
          tags,
          summary: 'Admin: every agent with its health',
          querystring: pageQuerySchema,
          response: { 200: listSchema, ...errorResponses },
        },
      },
      async (request) => list(request.query),
    );
    app.get(
      `${prefix}/:vendorId`,
      {
        config: routes.admin,
        schema: {
          tags,
          summary: 'Admin: one agent',
          params: vendorParams,
          response: { 200: agentViewSchema, ...errorResponses },
        },
      },
      async (request) => get(request.params.vendorId),
    );
    app.delete(
      `${prefix}/:vendorId`,
      {
        config: routes.admin,
        schema: {
          tags,
          summary: 'Admin: deregister an agent (answers the agent as it was)',
          params: vendorParams,
          response: { 200: agentViewSchema, ...errorResponses },
        },
      },
      async (request) => remove(request.params.vendorId, adminActor(request)),
    );
  }

  app.put(
    '/api/admin/agents/:vendorId',
    {
      config: routes.admin,
      schema: {
        tags,
        summary: 'Admin: change an agent (URL, active, config)',
        params: vendorParams,
        body: updateAgentBodySchema,
        response: { 200: agentViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { agentUrl, isActive, config: agentConfig } = request.body;
      const agent = await updateAgent(db, request.params.vendorId, {
        agent_url: agentUrl,
        is_active: isActive,
        config: agentConfig,
      });
      if (!agent)
        throw new AppError(
          404,
          ApiError.agentNotFound,
          `no agent is registered for vendor ${request.params.vendorId}`,
        );
      app.auth.forgetAgent(agent.vendor_id);
      await audit(db, {
        actor: adminActor(request),
        action: 'agent.update',
        target_type: 'agent',
        target_id: agent.vendor_id,
        details: request.body,
      });
      return view(agent);
    },
  );
};
