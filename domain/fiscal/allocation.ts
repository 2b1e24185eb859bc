// Pure rules of fiscal number allocation (docs/fiscal.md). Two levels: the series' home node grants
// blocks to nodes, above every block it ever granted; a node grants device ranges from its own
// blocks, above every range it ever cut from that block. Numbers only go up, so nothing is reused.

export interface OwnedBlock {
  block_id: string;
  block_start: number;
  block_end: number;
  /** The highest number of the block already in a device range (null: none yet). */
  handed_up_to: number | null;
}

export interface Cut {
  block_id: string;
  start: number;
  end: number;
}

/** The first number of a block not yet handed out (block_end + 1 when it is used up). */
const nextOf = (b: OwnedBlock) => (b.handed_up_to === null ? b.block_start : b.handed_up_to + 1);

/** Numbers of these blocks not yet in any device range. */
export function freeNumbers(blocks: readonly OwnedBlock[]): number {
  return blocks.reduce((sum, b) => sum + Math.max(0, b.block_end - nextOf(b) + 1), 0);
}

/**
 * The next device range of `quantity` numbers: from the lowest block with numbers left, never across
 * a block's end (blocks of one node need not be contiguous), so the tail of a block may be shorter.
 */
export function cutRange(blocks: readonly OwnedBlock[], quantity: number): Cut | null {
  const sorted = [...blocks].sort((a, b) => a.block_start - b.block_start);
  for (const b of sorted) {
    const start = nextOf(b);
    if (start > b.block_end) continue;
    return { block_id: b.block_id, start, end: Math.min(b.block_end, start + quantity - 1) };
  }
  return null;
}

export interface SeriesBounds {
  first_number: number;
  /** The last number the tax authority authorised (null: open-ended). */
  last_number: number | null;
}

/** The next block the home node may grant: above the highest block so far, inside the authorisation. */
export function nextBlock(
  series: SeriesBounds,
  highestBlockEnd: number | null,
  size: number,
): { start: number; end: number } | null {
  const start = highestBlockEnd === null ? series.first_number : highestBlockEnd + 1;
  const end = start + size - 1;
  if (series.last_number !== null) {
    if (start > series.last_number) return null;
    return { start, end: Math.min(end, series.last_number) };
  }
  return end > Number.MAX_SAFE_INTEGER ? null : { start, end };
}

/**
 * The home node of a series first seen in a reservation (declared implicitly). Every node must
 * compute the same answer without talking to the others, also when both are cut off: the configured
 * FISCAL_HOME_NODE, else the smallest id among this node and its peers (the same set on both sides of
 * a pair or a full mesh).
 */
export function defaultHomeNode(
  nodeId: string,
  peerIds: readonly string[],
  configured: string | null,
): string {
  if (configured) return configured;
  return [nodeId, ...peerIds].sort()[0]!;
}
