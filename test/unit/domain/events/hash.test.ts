import fc from 'fast-check';
import { eventDigest, hashPayload, sortDeep, xorInto } from '../../../../domain/events/hash';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The same object with its keys inserted in reverse order, at every depth. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).reverse()) {
    Object.defineProperty(out, key, {
      value: reverseKeys((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

describe('hashPayload', () => {
  it('is a sha-256 hex digest and is deterministic', () => {
    const payload = { sale_id: 'a', items: [{ qty: 1 }] };
    expect(hashPayload(payload)).toMatch(SHA256_HEX);
    expect(hashPayload(payload)).toBe(hashPayload(structuredClone(payload)));
  });

  it('ignores key order at the top level', () => {
    expect(hashPayload({ a: 1, b: 2, c: 'x' })).toBe(hashPayload({ c: 'x', b: 2, a: 1 }));
  });

  it('ignores key order in nested objects, including objects inside arrays', () => {
    const a = { outer: { x: 1, y: { p: true, q: null } }, items: [{ product_id: 'p', qty: 2 }] };
    const b = { items: [{ qty: 2, product_id: 'p' }], outer: { y: { q: null, p: true }, x: 1 } };
    expect(hashPayload(a)).toBe(hashPayload(b));
  });

  it('keeps array order significant', () => {
    expect(hashPayload({ items: [1, 2] })).not.toBe(hashPayload({ items: [2, 1] }));
    expect(hashPayload([{ a: 1 }, { b: 2 }])).not.toBe(hashPayload([{ b: 2 }, { a: 1 }]));
  });

  it('distinguishes different values, types and nesting', () => {
    const variants = [
      { a: 1 },
      { a: '1' },
      { a: 2 },
      { a: [1] },
      { a: { b: 1 } },
      { b: 1 },
      { a: null },
      { a: true },
    ];
    expect(new Set(variants.map(hashPayload)).size).toBe(variants.length);
  });

  it('hashes a Date as its ISO string', () => {
    const at = new Date('2026-11-20T12:00:00.123Z');
    expect(hashPayload({ at })).toBe(hashPayload({ at: '2026-11-20T12:00:00.123Z' }));
    expect(sortDeep({ nested: [at] })).toEqual({ nested: ['2026-11-20T12:00:00.123Z'] });
  });

  it('handles null and undefined the way JSON (and jsonb) does', () => {
    // A key holding undefined is not serialised, so it cannot change the hash of what is stored.
    expect(hashPayload({ a: 1, b: undefined })).toBe(hashPayload({ a: 1 }));
    // null is a value and is kept.
    expect(hashPayload({ a: 1, b: null })).not.toBe(hashPayload({ a: 1 }));
    // Inside arrays undefined serialises as null, as JSON.stringify does.
    expect(hashPayload([undefined])).toBe(hashPayload([null]));
    expect(hashPayload(undefined)).toBe(hashPayload(null));
    expect(hashPayload(null)).toMatch(SHA256_HEX);
  });

  it('covers own keys named like Object.prototype members', () => {
    // jsonb and JSON.parse make "__proto__" an ordinary key; it must count like any other.
    const withProto = JSON.parse('{"a":1,"__proto__":{"x":1}}') as Record<string, unknown>;
    const otherProto = JSON.parse('{"a":1,"__proto__":{"x":2}}') as Record<string, unknown>;
    expect(hashPayload(withProto)).not.toBe(hashPayload({ a: 1 }));
    expect(hashPayload(withProto)).not.toBe(hashPayload(otherProto));
    expect(JSON.stringify(sortDeep(withProto))).toBe('{"__proto__":{"x":1},"a":1}');
  });

  it('property: any JSON value hashes the same whatever its key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(hashPayload(reverseKeys(value))).toBe(hashPayload(value));
        // and survives a JSON round trip (what jsonb storage does to a payload)
        expect(hashPayload(JSON.parse(JSON.stringify(value)))).toBe(hashPayload(value));
      }),
      { numRuns: 300 },
    );
  });

  it('property: different JSON values hash differently', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(JSON.stringify(sortDeep(a)) !== JSON.stringify(sortDeep(b)));
        expect(hashPayload(a)).not.toBe(hashPayload(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('eventDigest and xorInto', () => {
  it('is case-insensitive in the event id and depends on both inputs', () => {
    const h = hashPayload({ a: 1 });
    const id = '6f1c2a9e-0000-4000-8000-00000000abcd';
    expect(eventDigest(id, h).equals(eventDigest(id.toUpperCase(), h))).toBe(true);
    expect(eventDigest(id, h).equals(eventDigest(id, hashPayload({ a: 2 })))).toBe(false);
    expect(eventDigest(id, h)).toHaveLength(32);
  });

  it('folds digests order-independently and a second fold cancels the first', () => {
    const parts = ['a', 'b', 'c'].map((s, i) =>
      eventDigest(`0000000${i}-0000-4000-8000-000000000000`, hashPayload(s)),
    );
    const forward = Buffer.alloc(32);
    for (const p of parts) xorInto(forward, p);
    const backward = Buffer.alloc(32);
    for (const p of [...parts].reverse()) xorInto(backward, p);
    expect(forward.equals(backward)).toBe(true);
    expect(forward.equals(Buffer.alloc(32))).toBe(false);
    for (const p of parts) xorInto(forward, p);
    expect(forward.equals(Buffer.alloc(32))).toBe(true);
  });
});
