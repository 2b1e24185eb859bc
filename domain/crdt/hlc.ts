/**
 * The ordering stamp of an event, given once where it enters the federation and carried with it, so
 * every node orders concurrent writes identically. A device's clock is not trusted: the stamp is the
 * device's created_at, but never more than `maxSkewMs` ahead of the origin node's own clock, and
 * always after every stamp the event's vector clock says it has seen (causality first: a write that
 * saw another sorts after it, whatever the device's clock said).
 */
export interface BoundedStamp {
  hlc: Date;
  /** Why the stamp differs from created_at, if it does (for the conflict audit). */
  adjusted: null | 'ahead-of-node-clock' | 'behind-causal-past';
}

export function boundedStamp(
  createdAt: Date,
  nodeNow: Date,
  maxSkewMs: number,
  causalFloor: Date | null,
): BoundedStamp {
  const ceiling = nodeNow.getTime() + maxSkewMs;
  let t = createdAt.getTime();
  let adjusted: BoundedStamp['adjusted'] = null;
  if (t > ceiling) {
    t = ceiling;
    adjusted = 'ahead-of-node-clock';
  }
  // One millisecond past the latest stamp it has seen keeps stamps consistent with happened-before.
  if (causalFloor && t <= causalFloor.getTime()) {
    t = causalFloor.getTime() + 1;
    adjusted ??= 'behind-causal-past';
  }
  return { hlc: new Date(t), adjusted };
}
