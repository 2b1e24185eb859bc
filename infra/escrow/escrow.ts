import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import type { Log } from '../log';
import { ingestInTransaction, type IngestOptions } from '../eventlog/ingest';
import { nodeEvents, type NodeEventDraft } from '../eventlog/node-events';
import { toWireEvent } from '../peers/peer-client';
import { lockEntities, type Trx } from '../projections/types';
import { escrowLockKey } from '../projections/sale-intake';
import { outstandingOf, quotaOf } from '../repositories/escrow-quotas';
import { movedRights } from '../repositories/escrow-rights-moves';
import { fetchEvents } from '../repositories/events';
import { productInfo } from '../repositories/products';
import { stockShareOf } from '../repositories/stock-movements';
import { productStock } from '../repositories/warehouse-stock';
import { decideGrant, DenyReason, nodeRights, type GrantFacts } from '../../domain/escrow/grant';
import type { WireEvent } from '../../domain/wire/peer-protocol';

// Inventory escrow on this node (docs/escrow.md): batch grants, releases at expiry, rights moved to
// a peer. Each decision is taken under the product's escrow lock (also taken by the push path when
// a sale consumes a quota), from this node's own rights, and written as a node-made event in the
// same transaction, so it replicates like any other and every node accounts for it.

export interface EscrowSettings {
  nodeId: string;
  /** ESCROW_DEVICE_SHARE */
  deviceShare: number;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

export interface GrantRequest {
  store_id: string;
  device_id: string;
  items: { product_id: string; qty: number; expires_at?: string }[];
}

export interface GrantedItem {
  grant_id: string;
  product_id: string;
  qty_granted: number;
  expires_at: string;
}

export interface GrantOutcome {
  granted: GrantedItem[];
  denied: { product_id: string; reason: DenyReason }[];
}

export interface StartGrant {
  storeId: string;
  deviceId: string;
  grantId: string;
  productId: string;
  ttlMs: number;
}

export interface GrantHooks {
  /**
   * Starts each grant's EscrowGrant workflow while the grant is still uncommitted: if Temporal
   * refuses, the grant rolls back (no quota without the workflow that releases it); if the commit
   * fails after, the workflow finds no grant at expiry and ends.
   */
  startWorkflow?: (g: StartGrant) => Promise<void>;
  /** Asks peers for rights this node lacks (they answer with EscrowRightsMoved events, ingested here). */
  askPeers?: (storeId: string, productId: string, qty: number) => Promise<void>;
}

const RETRYABLE = new Set(['40P01', '40001']);

/** A transaction retried on deadlock or serialization failure (the locks are ordered; this is rare). */
async function inTransaction<T>(db: Db, work: (trx: Trx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || code === undefined || !RETRYABLE.has(code)) throw err;
    }
  }
}

const ingestOpts = (nodeId: string): IngestOptions => ({ nodeId, source: 'admin' });

async function lockProducts(trx: Trx, storeId: string, productIds: string[]): Promise<void> {
  await lockEntities(trx, 'escrow', [...new Set(productIds.map((p) => escrowLockKey(storeId, p)))].sort());
}

/** This node's escrow rights for a product, with the terms they come from. */
export async function rightsOf(db: Db | Trx, nodeId: string, storeId: string, productId: string) {
  const share = await stockShareOf(db, storeId, productId, nodeId);
  const moved = await movedRights(db, storeId, productId, nodeId);
  const held = await outstandingOf(db, storeId, productId, '', nodeId);
  const facts = { share, movedIn: moved.in, movedOut: moved.out, outstanding: held.node };
  return { rights: nodeRights(facts), ...facts };
}

async function grantFacts(
  db: Db | Trx,
  s: EscrowSettings,
  storeId: string,
  productId: string,
  deviceId: string,
  requested: number,
): Promise<GrantFacts> {
  const stock = await productStock(db, storeId, productId);
  const held = await outstandingOf(db, storeId, productId, deviceId, s.nodeId);
  const { rights } = await rightsOf(db, s.nodeId, storeId, productId);
  return {
    requested,
    stock,
    reserved: held.all,
    deviceHeld: held.device,
    rights,
    deviceShare: s.deviceShare,
  };
}

/**
 * POST /inventory/escrow/batch-grant: for each item, min(asked, the device's share of the stock,
 * the unreserved remainder, this node's rights), in whole units; the rest denied with a reason.
 * Rights this node lacks are first asked of the peers (outside any lock: a slow peer delays only
 * this request). Then one transaction locks the products, decides, and writes an EscrowGranted per
 * grant, so concurrent grants for one product are serialised and never exceed the stock.
 */
export async function grantEscrow(
  db: Db,
  s: EscrowSettings,
  hooks: GrantHooks,
  req: GrantRequest,
  log: Log,
): Promise<GrantOutcome> {
  const storeId = req.store_id.toLowerCase();
  const deviceId = req.device_id.toLowerCase();
  const now = Date.now();
  const denied: GrantOutcome['denied'] = [];
  const seen = new Set<string>();
  const items: { product_id: string; qty: number; expires_at: string; ttlMs: number }[] = [];
  const info = await productInfo(
    db,
    storeId,
    req.items.map((i) => i.product_id.toLowerCase()),
  );
  for (const item of req.items) {
    const productId = item.product_id.toLowerCase();
    if (seen.has(productId)) {
      denied.push({ product_id: productId, reason: DenyReason.duplicateItem });
      continue;
    }
    seen.add(productId);
    const expires = item.expires_at ? Date.parse(item.expires_at) : now + s.defaultTtlSeconds * 1000;
    if (!(expires > now) || expires - now > s.maxTtlSeconds * 1000) {
      denied.push({ product_id: productId, reason: DenyReason.invalidExpiry });
      continue;
    }
    if (info.get(productId)?.track_inventory === false) {
      denied.push({ product_id: productId, reason: DenyReason.notTracked });
      continue;
    }
    items.push({
      product_id: productId,
      qty: item.qty,
      expires_at: new Date(expires).toISOString(),
      ttlMs: expires - now,
    });
  }

  if (hooks.askPeers) {
    for (const item of items) {
      const facts = await grantFacts(db, s, storeId, item.product_id, deviceId, item.qty);
      const wanted = decideGrant({ ...facts, rights: Number.POSITIVE_INFINITY }).qty;
      const short = wanted - Math.floor(facts.rights);
      if (short <= 0) continue;
      await hooks.askPeers(storeId, item.product_id, short).catch((err: unknown) => {
        log.warn({ err, store_id: storeId, product_id: item.product_id }, 'no escrow rights from peers');
      });
    }
  }

  const granted = await inTransaction(db, async (trx) => {
    await lockProducts(
      trx,
      storeId,
      items.map((i) => i.product_id),
    );
    const out: (GrantedItem & { ttlMs: number })[] = [];
    const refused: GrantOutcome['denied'] = [];
    for (const item of items) {
      const decision = decideGrant(await grantFacts(trx, s, storeId, item.product_id, deviceId, item.qty));
      if (decision.reason !== null) {
        refused.push({ product_id: item.product_id, reason: decision.reason });
        continue;
      }
      out.push({
        grant_id: randomUUID(),
        product_id: item.product_id,
        qty_granted: decision.qty,
        expires_at: item.expires_at,
        ttlMs: item.ttlMs,
      });
    }
    const drafts: NodeEventDraft[] = out.map((g) => ({
      store_id: storeId,
      type: 'EscrowGranted',
      payload: {
        grant_id: g.grant_id,
        node_id: s.nodeId,
        device_id: deviceId,
        product_id: g.product_id,
        qty: g.qty_granted,
        expires_at: g.expires_at,
      },
    }));
    await ingestInTransaction(trx, await nodeEvents(trx, s.nodeId, drafts), ingestOpts(s.nodeId), log);
    for (const g of out) {
      await hooks.startWorkflow?.({
        storeId,
        deviceId,
        grantId: g.grant_id,
        productId: g.product_id,
        ttlMs: g.ttlMs,
      });
    }
    return { out, refused };
  });
  denied.push(...granted.refused);
  return { granted: granted.out.map(({ ttlMs: _ttl, ...g }) => g), denied };
}

export interface ReleaseOutcome {
  found: boolean;
  released: boolean;
  qty_released: number;
  qty_consumed: number;
}

/**
 * Gives a quota's unconsumed rest back to this node's rights (EscrowReleased), once: what the
 * EscrowGrant workflow does at expiry. A grant that never committed, was already released, or is
 * another node's is left alone.
 */
export async function releaseGrant(
  db: Db,
  nodeId: string,
  storeId: string,
  grantId: string,
  log: Log,
): Promise<ReleaseOutcome> {
  const first = await quotaOf(db, storeId, grantId);
  if (!first) return { found: false, released: false, qty_released: 0, qty_consumed: 0 };
  return inTransaction(db, async (trx) => {
    await lockProducts(trx, storeId, [first.product_id]);
    const q = (await quotaOf(trx, storeId, grantId))!;
    const consumed = Number(q.qty_consumed);
    if (q.released || q.node_id !== nodeId) {
      return { found: true, released: false, qty_released: 0, qty_consumed: consumed };
    }
    const rest = Math.max(0, Math.round((Number(q.qty_granted) - consumed) * 1000) / 1000);
    const events = await nodeEvents(trx, nodeId, [
      {
        store_id: storeId,
        type: 'EscrowReleased',
        payload: {
          grant_id: grantId,
          node_id: nodeId,
          product_id: q.product_id,
          qty_released: rest,
          qty_consumed: consumed,
        },
      },
    ]);
    await ingestInTransaction(trx, events, ingestOpts(nodeId), log);
    return { found: true, released: true, qty_released: rest, qty_consumed: consumed };
  });
}

/**
 * Moves up to `qty` of this node's rights for a product to another node (EscrowRightsMoved), never
 * more than it holds. Returns the event as stored (the asking peer ingests it at once, and the
 * relay brings it again as a duplicate).
 */
export async function moveRights(
  db: Db,
  nodeId: string,
  req: { storeId: string; productId: string; toNode: string; qty: number },
  log: Log,
): Promise<{ moved: number; event: WireEvent | null }> {
  const storeId = req.storeId.toLowerCase();
  const productId = req.productId.toLowerCase();
  return inTransaction(db, async (trx) => {
    await lockProducts(trx, storeId, [productId]);
    const { rights } = await rightsOf(trx, nodeId, storeId, productId);
    const moved = Math.floor(Math.min(req.qty, rights));
    if (moved <= 0) return { moved: 0, event: null };
    const events = await nodeEvents(trx, nodeId, [
      {
        store_id: storeId,
        type: 'EscrowRightsMoved',
        payload: {
          move_id: randomUUID(),
          product_id: productId,
          from_node: nodeId,
          to_node: req.toNode,
          qty: moved,
        },
      },
    ]);
    await ingestInTransaction(trx, events, ingestOpts(nodeId), log);
    const [stored] = await fetchEvents(trx, storeId, [events[0]!.event_id]);
    return { moved, event: toWireEvent(stored!) };
  });
}

/** What a node would report for a product: stock, reserved, and its rights (GET …/rights). */
export async function escrowStatus(db: Db, nodeId: string, storeId: string, productId: string) {
  const stock = await productStock(db, storeId, productId);
  const held = await outstandingOf(db, storeId, productId, '', nodeId);
  const rights = await rightsOf(db, nodeId, storeId, productId);
  return { stock, reserved: held.all, ...rights };
}
