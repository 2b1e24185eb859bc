import { randomUUID } from 'node:crypto';
import { AppError } from '../../../../domain/errors';
import { decodeCursor, encodeCursor, pageOf } from '../../../../infra/reads/cursor';

test('a cursor carries its key back, and only to its own query', () => {
  const key = [randomUUID(), randomUUID()];
  const cursor = encodeCursor('stock', key);
  expect(decodeCursor('stock', 2, cursor)).toEqual(key);
  expect(decodeCursor('stock', 2, undefined)).toBeUndefined();
  for (const [kind, arity, bad] of [
    ['products', 1, cursor],
    ['stock', 1, cursor],
    ['stock', 2, 'not base64 json'],
    ['stock', 2, Buffer.from('{"a":1}').toString('base64url')],
    ['stock', 2, encodeCursor('stock', ['x', 'y'])],
  ] as const) {
    expect(() => decodeCursor(kind, arity, bad)).toThrow(AppError);
  }
});

test('pageOf: the cursor is the last row of a page that has more after it', () => {
  const rows = ['a', 'b', 'c'];
  expect(pageOf(rows, 2, 'k', (r) => [r])).toEqual({
    rows: ['a', 'b'],
    next_cursor: encodeCursor('k', ['b']),
  });
  expect(pageOf(rows, 3, 'k', (r) => [r])).toEqual({ rows, next_cursor: null });
});
