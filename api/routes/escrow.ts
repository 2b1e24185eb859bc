import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { escrowStatus, grantEscrow, moveRights, type EscrowSettings } from '../../infra/escrow/escrow';
import { createRightsRequester } from '../../infra/escrow/peer-rights';
import { requirePeer } from '../../infra/peers/find-peer';
import { activeQuotas } from '../../infra/repositories/escrow-quotas';
import { requireStore } from '../../infra/repositories/stores';
import { startEscrowGrant } from '../../actors/escrow';
import { DenyReason } from '../../domain/escrow/grant';
import { ApiError, AppError } from '../../domain/errors';
import { idSchema } from '../../domain/events/schemas';
import {
  escrowRightsRequestSchema,
  escrowRightsResponseSchema,
  PeerPath,
} from '../../domain/wire/peer-protocol';
import { errorResponses } from '../errors';
import { assertStoreAccess, principalOf } from '../plugins/auth';

// Inventory escrow (docs/escrow.md): devices take quotas of stock before going offline; nodes move
// escrow rights between them. The decisions are infra/escrow/escrow.ts; these handlers only parse,
// authorise and answer.

export interface EscrowRoutesOptions {
  config: Config;
  db: Db;
  temporal?: Client;
  onEventsCommitted?: (storeIds: string[]) => void;
}

const deviceRef = z.string().min(1).max(100);
const isoDate = z.iso.datetime({ offset: true });

const grantBody = z.object({
  store_id: idSchema,
  device_id: deviceRef,
  items: z
    .array(
      z.object({
        product_id: idSchema,
        qty: z.number().positive().max(1e9),
        expires_at: isoDate.optional().describe('default: now + ESCROW_DEFAULT_TTL_SECONDS'),
      }),
    )
    // Empty is an empty answer (not a 400), so a device naming another store is told 403 first.
    .max(200),
});

const grantResponse = z.object({
  granted: z.array(
    z.object({
      grant_id: z.string(),
      product_id: z.string(),
      qty_granted: z.number(),
      expires_at: z.string(),
    }),
  ),
  denied: z.array(
    z.object({
      product_id: z.string(),
      reason: z.enum(Object.values(DenyReason) as [DenyReason, ...DenyReason[]]),
    }),
  ),
});

const quotaSchema = z.object({
  grant_id: z.string(),
  node_id: z.string().describe('the node that granted it (and releases it at expiry)'),
  product_id: z.string(),
  qty_granted: z.number(),
  qty_consumed: z.number(),
  remaining: z.number(),
  granted_at: z.string(),
  expires_at: z.string(),
});

function assertDevice(principal: ReturnType<typeof principalOf>, deviceId: string): void {
  if (principal.kind === 'device' && principal.deviceId !== deviceId.toLowerCase()) {
    throw new AppError(403, ApiError.forbidden, 'device_id: this token belongs to another device');
  }
}

export const escrowRoutes: FastifyPluginAsyncZod<EscrowRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;
  const settings: EscrowSettings = {
    nodeId: config.NODE_ID,
    deviceShare: config.ESCROW_DEVICE_SHARE,
    defaultTtlSeconds: config.ESCROW_DEFAULT_TTL_SECONDS,
    maxTtlSeconds: config.ESCROW_MAX_TTL_SECONDS,
  };
  const askPeers = config.PEERS.length > 0 ? createRightsRequester(db, config, app.log) : undefined;

  app.post(
    '/inventory/escrow/batch-grant',
    {
      config: { auth: ['device', 'admin'] },
      schema: {
        tags: ['escrow'],
        summary:
          'Reserve stock quotas for a device before it goes offline (one EscrowGrant workflow per quota)',
        description:
          `Per item: at most ${Math.round(config.ESCROW_DEVICE_SHARE * 1000) / 10} % of the stock not held by other devices ` +
          '(counting what this device holds), never more than the unreserved remainder, and never more than ' +
          "this node's escrow rights (asked of the peers first when short), in whole units; a partial grant when " +
          `short. Expiry: \`expires_at\`, or ${config.ESCROW_DEFAULT_TTL_SECONDS} s; at most ` +
          `${config.ESCROW_MAX_TTL_SECONDS} s ahead. What cannot be granted is in \`denied\` with its reason.`,
        security: [{ bearer: [] }],
        body: grantBody,
        response: { 200: grantResponse, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertStoreAccess(principal, request.body.store_id);
      assertDevice(principal, request.body.device_id);
      await requireStore(db, request.body.store_id);
      const outcome = await grantEscrow(
        db,
        settings,
        { startWorkflow: (g) => startEscrowGrant(opts.temporal, config, g), askPeers },
        request.body,
        request.log,
      );
      if (outcome.granted.length > 0) opts.onEventsCommitted?.([request.body.store_id]);
      return outcome;
    },
  );

  app.get(
    '/inventory/escrow/quotas',
    {
      config: { auth: ['device', 'admin'] },
      schema: {
        tags: ['escrow'],
        summary: "A device's active quotas: not expired, not released, with what each has left",
        security: [{ bearer: [] }],
        querystring: z.object({ store_id: idSchema, device_id: deviceRef }),
        response: { 200: z.object({ quotas: z.array(quotaSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertStoreAccess(principal, request.query.store_id);
      assertDevice(principal, request.query.device_id);
      const quotas = await activeQuotas(db, request.query.store_id, request.query.device_id.toLowerCase());
      return {
        quotas: quotas.map((q) => ({
          grant_id: q.grant_id,
          node_id: q.node_id,
          product_id: q.product_id,
          qty_granted: Number(q.qty_granted),
          qty_consumed: Number(q.qty_consumed),
          remaining: Number(q.remaining),
          granted_at: q.granted_at.toISOString(),
          expires_at: q.expires_at.toISOString(),
        })),
      };
    },
  );

  const rightsStatus = z.object({
    stock: z.number(),
    reserved: z.number().describe('held in quotas of every node, not yet given back'),
    rights: z.number().describe("this node's escrow rights: share + moved_in − moved_out − outstanding"),
    share: z.number().describe('Σ stock movements of events that entered the federation here'),
    movedIn: z.number(),
    movedOut: z.number(),
    outstanding: z.number().describe("held in this node's own quotas"),
  });

  app.get(
    '/inventory/escrow/rights',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['escrow'],
        summary: "A product's stock, reserved quotas and this node's escrow rights",
        security: [{ bearer: [] }],
        querystring: z.object({ store_id: idSchema, product_id: idSchema }),
        response: { 200: rightsStatus, ...errorResponses },
      },
    },
    async (request) => escrowStatus(db, config.NODE_ID, request.query.store_id, request.query.product_id),
  );

  app.post(
    '/inventory/escrow/rights/transfer',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['escrow'],
        summary:
          "Move some of this node's escrow rights for a product to a peer (before a planned partition)",
        description:
          'Never more than this node holds; `moved` says how many went. The move is an EscrowRightsMoved ' +
          'event: the peer can grant from it once the relay delivers it.',
        security: [{ bearer: [] }],
        body: z.object({
          store_id: idSchema,
          product_id: idSchema,
          to_node: z.string().min(1).max(100),
          qty: z.number().int().positive().max(1e9),
        }),
        response: { 200: z.object({ moved: z.number() }), ...errorResponses },
      },
    },
    async (request) => {
      const peer = requirePeer(config, request.body.to_node);
      await requireStore(db, request.body.store_id);
      const { moved } = await moveRights(
        db,
        config.NODE_ID,
        {
          storeId: request.body.store_id,
          productId: request.body.product_id,
          toNode: peer.id,
          qty: request.body.qty,
        },
        request.log,
      );
      if (moved > 0) opts.onEventsCommitted?.([request.body.store_id]);
      return { moved };
    },
  );

  app.post(
    PeerPath.escrowRights,
    {
      config: { auth: ['peer'] },
      schema: {
        tags: ['federation'],
        summary: 'A peer short of escrow rights for a product asks this node to move some of its own',
        security: [{ bearer: [] }],
        body: escrowRightsRequestSchema,
        response: { 200: escrowRightsResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'peer') throw new AppError(403, ApiError.forbidden, 'peers only');
      const result = await moveRights(
        db,
        config.NODE_ID,
        {
          storeId: request.body.store_id,
          productId: request.body.product_id,
          toNode: principal.peerId,
          qty: request.body.qty,
        },
        request.log,
      );
      if (result.moved > 0) opts.onEventsCommitted?.([request.body.store_id]);
      return result;
    },
  );
};
