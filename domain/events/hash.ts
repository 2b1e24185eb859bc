import { createHash } from 'node:crypto';

/** Sorts object keys at every depth; arrays keep their order; Dates become ISO strings. */
export function sortDeep(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(sortDeep);
  if (typeof value !== 'object') return value;
  // No prototype: an own "__proto__" key (JSON.parse and jsonb keep one) must stay a plain key.
  const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value).sort()) {
    sorted[key] = sortDeep((value as Record<string, unknown>)[key]);
  }
  return sorted;
}

/**
 * sha-256 (hex) of the payload serialised with keys sorted at every depth, so the same content
 * hashes the same whatever key order a device, a peer or jsonb round-tripping produced.
 */
export function hashPayload(payload: unknown): string {
  const json = JSON.stringify(sortDeep(payload)) ?? 'null';
  return createHash('sha256').update(json).digest('hex');
}

/** One event's contribution to its anti-entropy bucket digest: sha256(event_id ‖ payload hash). */
export function eventDigest(eventId: string, payloadHash: string): Buffer {
  return createHash('sha256').update(eventId.toLowerCase()).update(payloadHash).digest();
}

export function xorInto(target: Buffer, other: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! ^ other[i]!;
}
