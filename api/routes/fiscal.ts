import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createFiscalExhaustionSignaller, startFiscalRange } from '../../actors/fiscal';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import type { Logger } from 'pino';
import {
  declareSeries,
  grantBlockToPeer,
  LEDGER_MAX_NUMBERS,
  reserveRange,
  seriesLedger,
} from '../../infra/fiscal/ranges';
import { requireStore } from '../../infra/repositories/stores';
import { ApiError, AppError } from '../../domain/errors';
import { timestampSchema } from '../../domain/events/schemas';
import { LEDGER_STATES } from '../../domain/fiscal/ledger';
import {
  fiscalBlockRequestSchema,
  fiscalBlockResponseSchema,
  PeerPath,
} from '../../domain/wire/peer-protocol';
import { errorResponses, errorResponseSchema } from '../errors';
import { storable } from '../text';
import { assertStoreAccess, principalOf } from '../plugins/auth';

// Fiscal number ranges (docs/fiscal.md, docs/api.md): series, device ranges, the ledger an auditor
// gets, and the peer route on which a series' home node grants blocks.

export interface FiscalRoutesOptions {
  config: Config;
  db: Db;
  log: Logger;
  temporal?: Client;
  onEventsCommitted?: (storeIds: string[]) => void;
}

const fiscalNumber = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const withConflict = { ...errorResponses, 409: errorResponseSchema } as const;

const seriesSchema = z.object({
  store_id: z.string(),
  series_id: z.string(),
  prefix: z.string(),
  first_number: z.number().int(),
  last_number: z.number().int().nullable(),
  valid_until: z.string().nullable(),
  home_node: z.string(),
  implicit: z.boolean().describe('declared by a first reservation, with defaults'),
});

const rangeSchema = z.object({
  device_id: z.string(),
  range_start: z.number().int(),
  range_end: z.number().int(),
  expires_at: z.string(),
});

const ledgerEntrySchema = z.object({
  number: z.number().int(),
  state: z.enum(LEDGER_STATES as [string, ...string[]]),
  sales: z.array(
    z.object({ sale_id: z.string(), device_id: z.string(), voided: z.boolean(), out_of_range: z.boolean() }),
  ),
  range_id: z.string().nullable(),
  device_id: z.string().nullable(),
  node_id: z.string().nullable(),
});

const ledgerSchema = z.object({
  store_id: z.string(),
  series_id: z.string(),
  prefix: z.string(),
  first_number: z.number().int(),
  highest_number: z.number().int().nullable(),
  from: z.number().int(),
  to: z.number().int(),
  next_from: z.number().int().nullable().describe('where the next page starts; null on the last one'),
  totals: z.record(z.string(), z.number().int()),
  entries: z.array(ledgerEntrySchema),
});

export const fiscalRoutes: FastifyPluginAsyncZod<FiscalRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;
  const deps = { db, config, log: opts.log.child({ component: 'fiscal' }) };
  const signalExhausted = opts.temporal
    ? createFiscalExhaustionSignaller(opts.temporal, config, deps.log)
    : undefined;

  app.post(
    '/fiscal/series',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['fiscal'],
        summary: 'Declare an invoice series (prefix, first number, authorised last number, home node)',
        description:
          'The home node (default: this node) grants number blocks to the other nodes. Declaring the same ' +
          'series again returns it (200); a different declaration of a known series is 409 FISCAL_SERIES_EXISTS.',
        security: [{ bearer: [] }],
        body: z.object({
          store_id: z.guid(),
          series_id: z.guid(),
          prefix: storable(z.string().max(20)).optional(),
          first_number: fiscalNumber.optional(),
          last_number: fiscalNumber.nullish().describe('the last number the tax authority authorised'),
          valid_until: timestampSchema.nullish().describe('end of the authorisation'),
          home_node: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,100}$/)
            .optional(),
        }),
        response: { 200: seriesSchema, 201: seriesSchema, ...withConflict },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const storeId = body.store_id.toLowerCase();
      await requireStore(db, storeId);
      const { series, created } = await declareSeries(deps, {
        ...body,
        store_id: storeId,
        series_id: body.series_id.toLowerCase(),
      });
      return reply.status(created ? 201 : 200).send(series);
    },
  );

  app.post(
    '/fiscal/reserve-range',
    {
      config: { auth: ['device', 'admin'] },
      schema: {
        tags: ['fiscal'],
        summary: 'Reserve a range of fiscal numbers for a device before it goes offline',
        description:
          `201 with a new range, or 200 with the device's active range in the series (one at a time). ` +
          `quantity defaults to ${config.FISCAL_RANGE_DEFAULT_SIZE}, at most ${config.FISCAL_RANGE_MAX_SIZE}; the ` +
          'tail of a number block may give fewer. A device token reserves for itself only. 409 ' +
          'FISCAL_SERIES_EXHAUSTED / FISCAL_SERIES_EXPIRED when the authorisation is used up or over; 503 ' +
          'FISCAL_NO_BLOCK when this node has no numbers left and the home node cannot grant a block.',
        security: [{ bearer: [] }],
        body: z.object({
          store_id: z.guid(),
          series_id: z.guid(),
          device_id: z.guid(),
          quantity: z.number().int().min(1).max(config.FISCAL_RANGE_MAX_SIZE).optional(),
        }),
        response: { 200: rangeSchema, 201: rangeSchema, ...withConflict },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = {
        ...request.body,
        store_id: request.body.store_id.toLowerCase(),
        series_id: request.body.series_id.toLowerCase(),
        device_id: request.body.device_id.toLowerCase(),
      };
      assertStoreAccess(principal, body.store_id);
      if (principal.kind === 'device' && principal.deviceId !== body.device_id) {
        throw new AppError(403, ApiError.forbidden, 'device_id: a device reserves numbers for itself only');
      }
      if (principal.kind === 'admin') await requireStore(db, body.store_id);
      const range = await reserveRange(deps, body);
      if (range.created || range.ended.length > 0) opts.onEventsCommitted?.([body.store_id]);
      // Used-up ranges the reservation ended (their signal was lost): their workflows can stop now.
      if (range.ended.length > 0) signalExhausted?.(range.ended);
      // A device's active range granted by another node (it moved) has its workflow there.
      if (opts.temporal && range.node_id === config.NODE_ID) {
        // Committed already: a failed start is retried by the device's next reservation (200).
        await startFiscalRange(opts.temporal, config, range).catch((err: unknown) =>
          request.log.error({ err, range_id: range.range_id }, 'FiscalRange workflow did not start'),
        );
      }
      return reply.status(range.created ? 201 : 200).send({
        device_id: range.device_id,
        range_start: range.range_start,
        range_end: range.range_end,
        expires_at: range.expires_at,
      });
    },
  );

  app.get(
    '/fiscal/series/:series_id/ledger',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['fiscal'],
        summary: 'Every number of a series with its state: issued, voided, burned, reserved or duplicate',
        description:
          'From the first number to the highest handed out (or from/to), at most ' +
          `${LEDGER_MAX_NUMBERS} numbers per answer (page on with next_from), with totals per state for ` +
          'the numbers listed. A function of the replicated events only: the same on every node after relay.',
        security: [{ bearer: [] }],
        params: z.object({ series_id: z.guid() }),
        querystring: z.object({
          store_id: z.guid(),
          from: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
          to: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
        }),
        response: { 200: ledgerSchema, ...errorResponses },
      },
    },
    async (request) => {
      const storeId = request.query.store_id.toLowerCase();
      await requireStore(db, storeId);
      return seriesLedger(db, {
        store_id: storeId,
        series_id: request.params.series_id.toLowerCase(),
        from: request.query.from,
        to: request.query.to,
      });
    },
  );

  app.post(
    PeerPath.fiscalBlock,
    {
      config: { auth: ['peer'] },
      schema: {
        tags: ['federation'],
        summary: "A series' home node grants the calling peer the next block of fiscal numbers",
        description:
          'The block is for the calling peer (its peer id is its node id). 409 FISCAL_NOT_HOME when this node ' +
          'is not the series home, FISCAL_SERIES_EXHAUSTED when the authorised range is used up.',
        security: [{ bearer: [] }],
        body: fiscalBlockRequestSchema,
        response: { 201: fiscalBlockResponseSchema, ...withConflict },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.kind !== 'peer') throw new AppError(403, ApiError.forbidden, 'peers only');
      const answer = await grantBlockToPeer(deps, principal.peerId, request.body);
      opts.onEventsCommitted?.([request.body.store_id]);
      return reply.status(201).send(answer);
    },
  );
};
