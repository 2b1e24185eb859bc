import { compareKeys, FULL_RANGE, inRange, nextStep } from '../../../../domain/erp/bisection';
import { canonicalJson, contentHash, rangeChecksum } from '../../../../domain/erp/checksum';
import { agentStatus } from '../../../../domain/erp/agent-status';
import { backoffMs } from '../../../../domain/erp/delivery';

test('keys compare in UTF-8 byte order (PostgreSQL COLLATE "C"), not UTF-16 order', () => {
  const keys = ['b', 'a', 'B', '\u{1F600}', '\uFF5E', 'é'];
  const bytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  expect([...keys].sort(compareKeys)).toEqual(bytes);
  expect(inRange('m', { from: 'm', to: 'n' })).toBe(true);
  expect(inRange('n', { from: 'm', to: 'n' })).toBe(false);
  expect(inRange('zzz', FULL_RANGE)).toBe(true);
});

test('bisection: equal ranges stop, small ones are leaves, others split at the median key', () => {
  const base = { from: '', to: null, localCount: 100, erpCount: 100, splitKey: 'm' };
  expect(nextStep({ ...base, equal: true }, 10)).toEqual({ kind: 'equal' });
  expect(nextStep({ ...base, equal: false, localCount: 10, erpCount: 9 }, 10)).toEqual({
    kind: 'leaf',
    range: FULL_RANGE,
  });
  expect(nextStep({ ...base, equal: false }, 10)).toEqual({
    kind: 'split',
    halves: [
      { from: '', to: 'm' },
      { from: 'm', to: null },
    ],
  });
  // Nothing here to split at (the ERP has records this node lacks): compare the range whole.
  expect(nextStep({ ...base, equal: false, localCount: 1, splitKey: null }, 10)).toMatchObject({
    kind: 'leaf',
  });
  expect(nextStep({ ...base, equal: false, from: 'm', splitKey: 'm' }, 10)).toMatchObject({ kind: 'leaf' });
});

test('content hash ignores key order and the timestamp; range checksum ignores input order', () => {
  expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  expect(contentHash({ sku: 'A', n: 1, updatedAt: 'x' })).toBe(
    contentHash({ n: 1, sku: 'A', updatedAt: 'y' }),
  );
  expect(contentHash({ sku: 'A', n: 1 })).not.toBe(contentHash({ sku: 'A', n: 2 }));
  const e = [
    { key: 'b', hash: '2' },
    { key: 'a', hash: '1' },
  ];
  expect(rangeChecksum(e)).toEqual(rangeChecksum([...e].reverse()));
  expect(rangeChecksum(e).count).toBe(2);
});

test('agent status from the last heartbeat; delivery backoff doubles from the first wait', () => {
  const t = { degradedMs: 60_000, offlineMs: 300_000 };
  const now = new Date('2026-12-01T12:00:00Z');
  const ago = (s: number) => new Date(now.getTime() - s * 1000);
  expect([
    agentStatus(ago(60), now, t),
    agentStatus(ago(61), now, t),
    agentStatus(ago(301), now, t),
    agentStatus(null, now, t),
  ]).toEqual(['online', 'degraded', 'offline', 'offline']);
  expect([1, 2, 3, 4].map((a) => backoffMs(a, { maxAttempts: 5, backoffSeconds: 60 }))).toEqual([
    60_000, 120_000, 240_000, 480_000,
  ]);
});
