import { cutRange, defaultHomeNode, freeNumbers, nextBlock } from '../../../../domain/fiscal/allocation';

const block = (id: string, start: number, end: number, handed: number | null = null) => ({
  block_id: id,
  block_start: start,
  block_end: end,
  handed_up_to: handed,
});

test('a range is cut from the lowest block with numbers left, above what it handed out', () => {
  expect(cutRange([block('b', 101, 200, 150), block('a', 1, 100, 100)], 50)).toEqual({
    block_id: 'b',
    start: 151,
    end: 200,
  });
  expect(cutRange([block('a', 1, 100)], 30)).toEqual({ block_id: 'a', start: 1, end: 30 });
});

test("a range never crosses a block's end, and used-up blocks give nothing", () => {
  expect(cutRange([block('a', 1, 100, 80), block('b', 501, 600)], 50)).toEqual({
    block_id: 'a',
    start: 81,
    end: 100,
  });
  expect(cutRange([block('a', 1, 100, 100)], 50)).toBeNull();
  expect(cutRange([], 50)).toBeNull();
});

test('free numbers count what no range holds yet', () => {
  expect(freeNumbers([block('a', 1, 100, 80), block('b', 501, 600)])).toBe(120);
});

test('blocks start at the first number, follow the highest block, and stop at the authorised last number', () => {
  expect(nextBlock({ first_number: 1001, last_number: null }, null, 1000)).toEqual({
    start: 1001,
    end: 2000,
  });
  expect(nextBlock({ first_number: 1, last_number: 1500 }, 1000, 1000)).toEqual({ start: 1001, end: 1500 });
  expect(nextBlock({ first_number: 1, last_number: 1500 }, 1500, 1000)).toBeNull();
});

test('the default home node is the same on both sides of a pair, whoever computes it', () => {
  expect(defaultHomeNode('shop', ['cloud'], null)).toBe('cloud');
  expect(defaultHomeNode('cloud', ['shop'], null)).toBe('cloud');
  expect(defaultHomeNode('shop', ['cloud'], 'shop')).toBe('shop');
});
