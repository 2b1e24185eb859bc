import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { Db } from '../db';
import type { Log } from '../log';
import { ingestEvents, ingestInTransaction } from '../eventlog/ingest';
import { findPeer } from '../peers/find-peer';
import { PeerClient, PeerError, toWireEvent } from '../peers/peer-client';
import { lockEntities, type Trx } from '../projections/types';
import { FISCAL_LOCK } from '../projections/fiscal';
import { fetchEvents } from '../repositories/events';
import { declareStore } from '../repositories/stores';
import { highestBlockEnd, listBlocks, ownedBlocks } from '../repositories/fiscal-blocks';
import { highestUsedNumber, usedNumbersIn } from '../repositories/fiscal-numbers';
import { findSeries, type FiscalSeries } from '../repositories/fiscal-series';
import {
  findActiveRange,
  findRange,
  listRanges,
  openRanges,
  overdueRanges,
  rangesWithLastNumberUsed,
  staleDeviceRanges,
  type FiscalRange,
  type StaleRange,
} from '../repositories/fiscal-sequence-ranges';
import type { ExhaustedRange } from '../projections/types';
import { ApiError, AppError } from '../../domain/errors';
import { cutRange, defaultHomeNode, freeNumbers, nextBlock } from '../../domain/fiscal/allocation';
import { buildLedger, type LedgerEntry, type LedgerState } from '../../domain/fiscal/ledger';
import { syncEventSchema, type EventType, type PayloadOf, type SyncEvent } from '../../domain/events/schemas';
import type { FiscalBlockRequest, FiscalBlockResponse, WireEvent } from '../../domain/wire/peer-protocol';

// Fiscal number ranges (docs/fiscal.md): declaring series, granting blocks (on the home node),
// reserving device ranges (from this node's blocks), ending ranges, and the series ledger. Every
// decision is taken under the (store, series) lock and recorded as a node-made event in the same
// transaction, so it commits with the log entry that tells the peers.

export type FiscalConfig = Pick<
  Config,
  | 'NODE_ID'
  | 'PEERS'
  | 'HLC_MAX_SKEW_MS'
  | 'RELAY_HTTP_TIMEOUT_MS'
  | 'FISCAL_RANGE_TTL_SECONDS'
  | 'FISCAL_RANGE_DEFAULT_SIZE'
  | 'FISCAL_RANGE_MAX_SIZE'
  | 'FISCAL_BLOCK_SIZE'
  | 'FISCAL_BLOCK_LOW_WATER'
  | 'FISCAL_HOME_NODE'
>;

export interface FiscalDeps {
  db: Db;
  config: FiscalConfig;
  log: Log;
}

export interface SeriesInput {
  store_id: string;
  series_id: string;
  prefix?: string;
  first_number?: number;
  last_number?: number | null;
  valid_until?: string | null;
  home_node?: string;
}

/** The device id node-made events carry: no registered device id (a uuid) can look like it. */
export const nodeDeviceId = (nodeId: string) => `node:${nodeId}`;

let lastSeq = 0;
/** Strictly increasing per process, and after what an earlier process of this node used. */
function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
}

/** An event this node makes, for its log. */
export function nodeEvent<T extends EventType>(
  nodeId: string,
  storeId: string,
  type: T,
  payload: PayloadOf<T>,
): SyncEvent {
  const device = nodeDeviceId(nodeId);
  const seq = nextSeq();
  return syncEventSchema.parse({
    event_id: randomUUID(),
    store_id: storeId,
    device_id: device,
    seq,
    vector_clock: { [device]: seq },
    created_at: new Date().toISOString(),
    type,
    payload,
  });
}

const RETRYABLE = new Set(['40P01', '40001', 'VELOX_RACE']);

/** A transaction retried on deadlocks, serialization failures and the log's insert race. */
async function inTransaction<T>(db: Db, work: (trx: Trx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 4 || code === undefined || !RETRYABLE.has(code)) throw err;
    }
  }
}

async function append(trx: Trx, deps: FiscalDeps, events: SyncEvent[]): Promise<void> {
  await ingestInTransaction(
    trx,
    events,
    { nodeId: deps.config.NODE_ID, source: 'admin', maxSkewMs: deps.config.HLC_MAX_SKEW_MS },
    deps.log,
  );
}

const lockSeries = (trx: Trx, storeId: string, seriesId: string) =>
  lockEntities(trx, FISCAL_LOCK, [`${storeId}:${seriesId}`]);

function seriesPayload(s: FiscalSeries | PayloadOf<'FiscalSeriesDeclared'>) {
  return {
    prefix: s.prefix,
    first_number: Number(s.first_number),
    last_number: s.last_number === null ? null : Number(s.last_number),
    valid_until:
      s.valid_until === null
        ? null
        : s.valid_until instanceof Date
          ? s.valid_until.toISOString()
          : s.valid_until,
    home_node: s.home_node,
    implicit: s.implicit,
  };
}

export type SeriesView = ReturnType<typeof seriesPayload> & { series_id: string; store_id: string };

const viewOf = (s: FiscalSeries): SeriesView => ({
  store_id: s.store_id,
  series_id: s.series_id,
  ...seriesPayload(s),
});

/** Declares the series in this transaction (the caller holds its lock); returns what was declared. */
async function declareInTx(
  trx: Trx,
  deps: FiscalDeps,
  storeId: string,
  seriesId: string,
  payload: ReturnType<typeof seriesPayload>,
): Promise<FiscalSeries> {
  await append(trx, deps, [
    nodeEvent(deps.config.NODE_ID, storeId, 'FiscalSeriesDeclared', { series_id: seriesId, ...payload }),
  ]);
  return (await findSeries(trx, storeId, seriesId))!;
}

function implicitSeries(config: FiscalConfig) {
  return {
    prefix: '',
    first_number: 1,
    last_number: null,
    valid_until: null,
    home_node: defaultHomeNode(
      config.NODE_ID,
      config.PEERS.map((p) => p.id),
      config.FISCAL_HOME_NODE,
    ),
    implicit: true,
  };
}

/**
 * An admin declares a series (201), or declares again what is already declared (200). A different
 * declaration of a known series is a 409: changing the home or the numbers of a series in use could
 * hand out numbers twice.
 */
export async function declareSeries(
  deps: FiscalDeps,
  input: SeriesInput,
): Promise<{ series: SeriesView; created: boolean }> {
  const wanted = {
    prefix: input.prefix ?? '',
    first_number: input.first_number ?? 1,
    last_number: input.last_number ?? null,
    valid_until: input.valid_until ? new Date(input.valid_until).toISOString() : null,
    home_node: input.home_node ?? deps.config.NODE_ID,
    implicit: false,
  };
  if (wanted.last_number !== null && wanted.last_number < wanted.first_number) {
    throw new AppError(400, ApiError.validationFailed, 'last_number: must not be below first_number');
  }
  return inTransaction(deps.db, async (trx) => {
    await lockSeries(trx, input.store_id, input.series_id);
    const known = await findSeries(trx, input.store_id, input.series_id);
    if (known) {
      const have = seriesPayload(known);
      const same =
        have.prefix === wanted.prefix &&
        have.first_number === wanted.first_number &&
        have.last_number === wanted.last_number &&
        have.valid_until === wanted.valid_until &&
        have.home_node === wanted.home_node;
      if (!same) {
        throw new AppError(
          409,
          ApiError.fiscalSeriesExists,
          `series_id: series ${input.series_id} is already declared differently (home ${have.home_node}, ` +
            `first ${have.first_number}, last ${have.last_number ?? 'open'})`,
        );
      }
      return { series: viewOf(known), created: false };
    }
    return {
      series: viewOf(await declareInTx(trx, deps, input.store_id, input.series_id, wanted)),
      created: true,
    };
  });
}

export interface ReserveInput {
  store_id: string;
  series_id: string;
  device_id: string;
  quantity?: number;
}

export interface ReservedRange {
  range_id: string;
  store_id: string;
  series_id: string;
  device_id: string;
  range_start: number;
  range_end: number;
  expires_at: string;
  /** The node that granted it: its FiscalRange workflow runs there. */
  node_id: string | null;
  created: boolean;
  /** The device's used-up ranges this reservation ended `exhausted` (their workflows are told). */
  ended: ExhaustedRange[];
}

const reservedOf = (r: FiscalRange, created: boolean, ended: ExhaustedRange[]): ReservedRange => ({
  range_id: r.range_id,
  store_id: r.store_id,
  series_id: r.series_id,
  device_id: r.device_id,
  range_start: Number(r.range_start),
  range_end: Number(r.range_end),
  expires_at: r.expires_at!.toISOString(),
  node_id: r.node_id,
  created,
  ended,
});

type Attempt =
  | { kind: 'range'; range: ReservedRange; free: number; series: FiscalSeries }
  | { kind: 'need-block'; series: FiscalSeries; ended: ExhaustedRange[] };

const exhausted = (seriesId: string, last: number | null) =>
  new AppError(
    409,
    ApiError.fiscalSeriesExhausted,
    `series_id: series ${seriesId} has no number left in its authorised range (last ${last ?? 'open'}); ` +
      'declare a new series with the next authorisation',
  );

/** The block requests under way, one per (store, series), so a burst asks the home node once. */
const pendingBlocks = new Map<string, Promise<void>>();

/**
 * Reserves a device range: the device's active range if it has one (created false), else the next
 * numbers of this node's blocks, under the (store, series) lock. A node that is not the series' home
 * asks the home for a block when it has none left (and ahead of need, under the low-water mark); the
 * home grants itself blocks in the same transaction. Never hands out a number twice.
 */
export async function reserveRange(deps: FiscalDeps, input: ReserveInput): Promise<ReservedRange> {
  const { config } = deps;
  const quantity = input.quantity ?? config.FISCAL_RANGE_DEFAULT_SIZE;
  const ended: ExhaustedRange[] = [];
  for (let round = 0; round < 3; round++) {
    const attempt = await inTransaction(deps.db, (trx) => reserveInTx(trx, deps, input, quantity));
    if (attempt.kind === 'range') {
      attempt.range.ended.unshift(...ended);
      if (
        attempt.range.created &&
        attempt.series.home_node !== config.NODE_ID &&
        attempt.free < config.FISCAL_BLOCK_LOW_WATER
      ) {
        // Ahead of need: the next block is asked for now, while this one still has numbers.
        void requestBlock(deps, attempt.series).catch((err: unknown) =>
          deps.log.warn({ err, series_id: input.series_id }, 'fiscal block request ahead of need failed'),
        );
      }
      return attempt.range;
    }
    // Committed with the round's transaction: a later round finds those ranges ended already.
    ended.push(...attempt.ended);
    await requestBlock(deps, attempt.series);
  }
  throw noBlock(input.series_id, 'blocks granted by the home node were used up by concurrent reservations');
}

async function reserveInTx(
  trx: Trx,
  deps: FiscalDeps,
  input: ReserveInput,
  quantity: number,
): Promise<Attempt> {
  const { config } = deps;
  const now = new Date();
  await lockSeries(trx, input.store_id, input.series_id);
  const series =
    (await findSeries(trx, input.store_id, input.series_id)) ??
    (await declareInTx(trx, deps, input.store_id, input.series_id, implicitSeries(config)));
  // A range is never handed back once its last number is used, even if the signal that should have
  // ended it was lost; one past its time whose workflow never ran is ended here too.
  const stale = await staleDeviceRanges(trx, input, config.NODE_ID, now);
  await endRangesInTx(trx, deps, stale);
  const ended = stale.filter((r) => r.used_up).map(exhaustedOf);
  const active = await findActiveRange(trx, input.store_id, input.series_id, input.device_id, now);
  if (active) return { kind: 'range', range: reservedOf(active, false, ended), free: Infinity, series };
  if (series.valid_until && series.valid_until <= now) {
    throw new AppError(
      409,
      ApiError.fiscalSeriesExpired,
      `series_id: the authorisation of series ${input.series_id} ended at ${series.valid_until.toISOString()}`,
    );
  }
  const blocks = await ownedBlocks(trx, input.store_id, input.series_id, config.NODE_ID);
  let cut = cutRange(blocks, quantity);
  let free = freeNumbers(blocks);
  if (!cut) {
    if (series.home_node !== config.NODE_ID) return { kind: 'need-block', series, ended };
    const block = await grantBlockInTx(
      trx,
      deps,
      series,
      config.NODE_ID,
      Math.max(config.FISCAL_BLOCK_SIZE, quantity),
    );
    cut = {
      block_id: block.block_id,
      start: block.block_start,
      end: Math.min(block.block_end, block.block_start + quantity - 1),
    };
    free = block.block_end - block.block_start + 1;
  }
  const rangeId = randomUUID();
  const expiresAt = new Date(now.getTime() + config.FISCAL_RANGE_TTL_SECONDS * 1000).toISOString();
  await append(trx, deps, [
    nodeEvent(config.NODE_ID, input.store_id, 'FiscalRangeGranted', {
      range_id: rangeId,
      series_id: input.series_id,
      device_id: input.device_id,
      node_id: config.NODE_ID,
      block_id: cut.block_id,
      range_start: cut.start,
      range_end: cut.end,
      expires_at: expiresAt,
    }),
  ]);
  const range = (await findRange(trx, input.store_id, rangeId))!;
  return {
    kind: 'range',
    range: reservedOf(range, true, ended),
    free: free - (cut.end - cut.start + 1),
    series,
  };
}

const exhaustedOf = (r: StaleRange): ExhaustedRange => ({
  store_id: r.store_id,
  range_id: r.range_id,
  node_id: r.node_id,
});

/**
 * Appends FiscalRangeClosed for open ranges (the caller holds their series lock): `exhausted` when
 * the device used the last number, else `expired`. The end is an event, so every node's ledger
 * shows it; of two ends of one range (this one and its workflow's) the projection keeps one.
 */
async function endRangesInTx(trx: Trx, deps: FiscalDeps, ranges: StaleRange[]): Promise<void> {
  if (ranges.length === 0) return;
  await append(
    trx,
    deps,
    ranges.map((r) =>
      nodeEvent(deps.config.NODE_ID, r.store_id, 'FiscalRangeClosed', {
        range_id: r.range_id,
        series_id: r.series_id,
        device_id: r.device_id,
        status: r.used_up ? 'exhausted' : 'expired',
      }),
    ),
  );
  for (const r of ranges) {
    deps.log.info(
      { range_id: r.range_id, series_id: r.series_id, status: r.used_up ? 'exhausted' : 'expired' },
      'fiscal range ended outside its workflow',
    );
  }
}

/** The home node grants `nodeId` the next block (the caller holds the series lock). */
async function grantBlockInTx(
  trx: Trx,
  deps: FiscalDeps,
  series: FiscalSeries,
  nodeId: string,
  size: number,
) {
  const high = await highestBlockEnd(trx, series.store_id, series.series_id);
  const bounds = {
    first_number: Number(series.first_number),
    last_number: series.last_number === null ? null : Number(series.last_number),
  };
  const next = nextBlock(bounds, high, size);
  if (!next) throw exhausted(series.series_id, bounds.last_number);
  const event = nodeEvent(deps.config.NODE_ID, series.store_id, 'FiscalBlockGranted', {
    block_id: randomUUID(),
    series_id: series.series_id,
    node_id: nodeId,
    block_start: next.start,
    block_end: next.end,
    granted_by: deps.config.NODE_ID,
  });
  await append(trx, deps, [event]);
  const p = event.payload as PayloadOf<'FiscalBlockGranted'>;
  return { event, block_id: p.block_id, node_id: nodeId, block_start: next.start, block_end: next.end };
}

const noBlock = (seriesId: string, why: string) =>
  new AppError(
    503,
    ApiError.fiscalNoBlock,
    `series_id: this node has no fiscal number block left for series ${seriesId}: ${why}`,
  );

/** Asks the series' home node for a block for this node and stores the grant (one request at a time). */
function requestBlock(deps: FiscalDeps, series: FiscalSeries): Promise<void> {
  const key = `${series.store_id}:${series.series_id}`;
  const pending = pendingBlocks.get(key);
  if (pending) return pending;
  const run = askHome(deps, series).finally(() => pendingBlocks.delete(key));
  pendingBlocks.set(key, run);
  return run;
}

async function askHome(deps: FiscalDeps, series: FiscalSeries): Promise<void> {
  const { config } = deps;
  const peer = findPeer(config, series.home_node);
  if (!peer) throw noBlock(series.series_id, `its home node ${series.home_node} is not a peer of this node`);
  const client = new PeerClient(peer, { nodeId: config.NODE_ID, timeoutMs: config.RELAY_HTTP_TIMEOUT_MS });
  let answer: FiscalBlockResponse;
  try {
    answer = await client.fiscalBlock({
      store_id: series.store_id,
      series_id: series.series_id,
      size: config.FISCAL_BLOCK_SIZE,
      series: seriesPayload(series),
    });
  } catch (err) {
    if (err instanceof PeerError && err.code === ApiError.fiscalSeriesExhausted) {
      throw exhausted(series.series_id, series.last_number === null ? null : Number(series.last_number));
    }
    throw noBlock(
      series.series_id,
      `its home node ${series.home_node} did not grant one (${(err as Error).message})`,
    );
  }
  const events = answer.events.map((e) => syncEventSchema.parse(e));
  await ingestEvents(
    deps.db,
    events,
    {
      nodeId: config.NODE_ID,
      source: 'system-federation',
      sourcePeer: peer.id,
      maxSkewMs: config.HLC_MAX_SKEW_MS,
    },
    deps.log,
  );
  deps.log.info(
    { series_id: series.series_id, block: answer.block },
    'fiscal block granted by the home node',
  );
}

/**
 * On the home node: grants the asking peer the next block of a series. A series this node has not
 * heard of yet is declared as the asker knows it, if it names this node as home.
 */
export async function grantBlockToPeer(
  deps: FiscalDeps,
  peerId: string,
  request: FiscalBlockRequest,
): Promise<FiscalBlockResponse> {
  const { config } = deps;
  const size = Math.min(request.size, Math.max(config.FISCAL_BLOCK_SIZE, config.FISCAL_RANGE_MAX_SIZE) * 10);
  // A peer serves the same stores: as for its pushes, the store is declared here if new.
  await declareStore(deps.db, { id: request.store_id, name: `store ${request.store_id}` });
  const granted = await inTransaction(deps.db, async (trx) => {
    await lockSeries(trx, request.store_id, request.series_id);
    let series = await findSeries(trx, request.store_id, request.series_id);
    const home = series?.home_node ?? request.series.home_node;
    if (home !== config.NODE_ID) {
      throw new AppError(
        409,
        ApiError.fiscalNotHome,
        `series_id: node ${config.NODE_ID} is not the home of series ${request.series_id} (its home is ${home})`,
      );
    }
    series ??= await declareInTx(trx, deps, request.store_id, request.series_id, {
      ...request.series,
      valid_until: request.series.valid_until ? new Date(request.series.valid_until).toISOString() : null,
    });
    const block = await grantBlockInTx(trx, deps, series, peerId, size);
    return { block, declaration: series.event_id };
  });
  const rows = await fetchEvents(deps.db, request.store_id, [
    granted.declaration,
    granted.block.event.event_id,
  ]);
  return {
    block: {
      block_id: granted.block.block_id,
      node_id: granted.block.node_id,
      block_start: granted.block.block_start,
      block_end: granted.block.block_end,
    },
    events: rows.map((r) => toWireEvent(r) as WireEvent),
  };
}

/**
 * Ends a range (its FiscalRange workflow calls this): appends FiscalRangeClosed unless the range has
 * ended already (a retried activity, or an end relayed from elsewhere). Returns whether it ended it.
 * A range whose last number its device used ends `exhausted` even when the workflow's timer ran out
 * first (the signal was lost, or the sale arrived by a path that does not signal).
 */
export async function closeRange(
  deps: FiscalDeps,
  input: { store_id: string; range_id: string; status: 'exhausted' | 'expired' },
): Promise<boolean> {
  return inTransaction(deps.db, async (trx) => {
    const range = await findRange(trx, input.store_id, input.range_id);
    if (!range) return false;
    await lockSeries(trx, input.store_id, range.series_id);
    const now = await findRange(trx, input.store_id, input.range_id);
    if (!now || now.close_event_id !== null) return false;
    const usedUp =
      input.status === 'exhausted' ||
      (await rangesWithLastNumberUsed(trx, input.store_id, [input.range_id])).length > 0;
    await append(trx, deps, [
      nodeEvent(deps.config.NODE_ID, input.store_id, 'FiscalRangeClosed', {
        range_id: input.range_id,
        series_id: now.series_id,
        device_id: now.device_id,
        status: usedUp ? 'exhausted' : 'expired',
      }),
    ]);
    return true;
  });
}

/** Most overdue ranges one sweep ends. */
export const OVERDUE_SWEEP_LIMIT = 100;

/**
 * Ends this node's ranges whose time is up but which are still open: their FiscalRange workflow
 * never started (a start that failed after the reservation committed, and the device never asked
 * again) or was terminated. Without this their unused numbers would stay `reserved` in the ledger
 * for ever; ended, they are `burned` (or the range `exhausted` if its last number was used), on
 * every node, since the end is an event. The orphan healer runs it on each pass.
 */
export async function endOverdueRanges(
  deps: FiscalDeps,
  opts: { storeId?: string; now?: Date } = {},
): Promise<StaleRange[]> {
  const now = opts.now ?? new Date();
  const found = await overdueRanges(deps.db, deps.config.NODE_ID, now, {
    storeId: opts.storeId,
    limit: OVERDUE_SWEEP_LIMIT,
  });
  const bySeries = new Map<string, StaleRange[]>();
  for (const r of found) {
    const key = `${r.store_id}:${r.series_id}`;
    bySeries.set(key, [...(bySeries.get(key) ?? []), r]);
  }
  const ended: StaleRange[] = [];
  for (const ranges of bySeries.values()) {
    const { store_id, series_id } = ranges[0]!;
    ended.push(
      ...(await inTransaction(deps.db, async (trx) => {
        await lockSeries(trx, store_id, series_id);
        // Under the lock: a workflow or a reservation may have ended some meanwhile, and a sale
        // may have used a last number.
        const open = await openRanges(
          trx,
          store_id,
          ranges.map((r) => r.range_id),
        );
        await endRangesInTx(trx, deps, open);
        return open;
      })),
    );
  }
  return ended;
}

/** Most numbers one ledger answer lists (page on with `from`). */
export const LEDGER_MAX_NUMBERS = 10_000;

export interface Ledger {
  store_id: string;
  series_id: string;
  prefix: string;
  first_number: number;
  highest_number: number | null;
  from: number;
  to: number;
  next_from: number | null;
  totals: Record<LedgerState, number>;
  entries: LedgerEntry[];
}

/** Every number of the series from the first to the highest handed out (or a window), one state each. */
export async function seriesLedger(
  db: Db,
  input: { store_id: string; series_id: string; from?: number; to?: number },
): Promise<Ledger> {
  const series = await findSeries(db, input.store_id, input.series_id);
  if (!series) {
    throw new AppError(
      404,
      ApiError.fiscalSeriesNotFound,
      `series_id: store ${input.store_id} has no series ${input.series_id}`,
    );
  }
  const first = Number(series.first_number);
  const ranges = await listRanges(db, input.store_id, input.series_id);
  const highRange = ranges.reduce<number | null>((m, r) => Math.max(m ?? 0, Number(r.range_end)), null);
  const highUsed = await highestUsedNumber(db, input.store_id, input.series_id);
  const highest = highRange === null && highUsed === null ? null : Math.max(highRange ?? 0, highUsed ?? 0);
  const from = Math.max(input.from ?? first, first);
  const end = Math.min(input.to ?? highest ?? from - 1, highest ?? from - 1);
  const to = Math.min(end, from + LEDGER_MAX_NUMBERS - 1);
  const uses = to >= from ? await usedNumbersIn(db, input.store_id, input.series_id, from, to) : [];
  const blocks = await listBlocks(db, input.store_id, input.series_id);
  const { entries, totals } = buildLedger(
    from,
    to,
    uses,
    ranges.map((r) => ({
      range_id: r.range_id,
      device_id: r.device_id,
      node_id: r.node_id,
      range_start: Number(r.range_start),
      range_end: Number(r.range_end),
      status: r.status,
    })),
    blocks.map((b) => ({
      block_id: b.block_id,
      node_id: b.node_id,
      block_start: Number(b.block_start),
      block_end: Number(b.block_end),
    })),
  );
  return {
    store_id: input.store_id,
    series_id: input.series_id,
    prefix: series.prefix,
    first_number: first,
    highest_number: highest,
    from,
    to,
    next_from: to < end ? to + 1 : null,
    totals,
    entries,
  };
}
