// The escrow decisions (docs/escrow.md), pure: how much a device may be granted of one product, and
// how many rights a node holds. Quantities are whole units: a quota is what a till may sell offline,
// and the 30 % rule on a small stock must not hand out fractions of a bottle.

export const DenyReason = {
  outOfStock: 'OUT_OF_STOCK',
  deviceLimit: 'DEVICE_LIMIT',
  noRights: 'NO_RIGHTS',
  notTracked: 'NOT_TRACKED',
  invalidExpiry: 'INVALID_EXPIRY',
  duplicateItem: 'DUPLICATE_ITEM',
} as const;
export type DenyReason = (typeof DenyReason)[keyof typeof DenyReason];

export interface GrantFacts {
  requested: number;
  /** The product's stock in the store (all warehouses), as this node knows it. */
  stock: number;
  /** Held in quotas not given back, by every device (granted − consumed − released). */
  reserved: number;
  /** Of `reserved`, what this device holds. */
  deviceHeld: number;
  /** Escrow rights this node holds for the product (nodeRights). */
  rights: number;
  /** The most of the stock not held by other devices one device may hold (0.3). */
  deviceShare: number;
}

export type GrantDecision = { qty: number; reason: null } | { qty: 0; reason: DenyReason };

/**
 * min(requested, the device's share of what other devices do not hold minus what it holds already,
 * the unreserved remainder, this node's rights), in whole units. A zero names the tightest bound.
 */
export function decideGrant(f: GrantFacts): GrantDecision {
  const unreserved = Math.floor(f.stock - f.reserved);
  const deviceCap = Math.floor(f.deviceShare * (f.stock - (f.reserved - f.deviceHeld)) - f.deviceHeld);
  const rights = Math.floor(f.rights);
  const qty = Math.floor(Math.min(f.requested, unreserved, deviceCap, rights));
  if (qty > 0) return { qty, reason: null };
  if (unreserved <= 0) return { qty: 0, reason: DenyReason.outOfStock };
  if (deviceCap <= 0) return { qty: 0, reason: DenyReason.deviceLimit };
  if (rights <= 0) return { qty: 0, reason: DenyReason.noRights };
  return { qty: 0, reason: DenyReason.deviceLimit };
}

export interface RightsFacts {
  /** Σ stock movements of events that entered the federation at the node. */
  share: number;
  movedIn: number;
  movedOut: number;
  /** What the node's own quotas still hold. */
  outstanding: number;
}

/**
 * A node's escrow rights for a product: its share of the stock, plus rights moved to it, minus
 * rights it moved away and what its quotas hold. Every term the node can raise is its own event
 * (so it knows it exactly) and every term others change only grows its rights, so a node's view
 * of its rights is never above the truth: grants and moves it makes from them stay covered.
 */
export function nodeRights(f: RightsFacts): number {
  return f.share + f.movedIn - f.movedOut - f.outstanding;
}
