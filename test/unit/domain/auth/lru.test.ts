import { Lru } from '../../../../domain/auth/lru';

test('keeps at most max entries, dropping the least recently used', () => {
  const lru = new Lru<string, number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  expect(lru.get('a')).toBe(1); // a is now the most recent
  lru.set('c', 3);
  expect(lru.size).toBe(2);
  expect(lru.has('b')).toBe(false);
  expect(lru.get('a')).toBe(1);
  expect(lru.get('c')).toBe(3);
});

test('a million distinct keys cost no more than max entries', () => {
  const lru = new Lru<number, true>(1000);
  for (let i = 0; i < 1_000_000; i++) lru.set(i, true);
  expect(lru.size).toBe(1000);
  expect(lru.has(999_999)).toBe(true);
  expect(lru.has(0)).toBe(false);
});

test('rejects a non-positive bound', () => {
  expect(() => new Lru(0)).toThrow(RangeError);
});
