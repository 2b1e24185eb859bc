import { pushSplitting, type FailureKind } from '../../../../domain/relay/split-push';

class Fail extends Error {
  constructor(readonly kind: FailureKind) {
    super(kind);
  }
}

/**
 * A peer in memory: `verdict` decides each request from the batch it gets. Records every request, so
 * the tests can count them and see what went through.
 */
function peer(verdict: (batch: number[]) => FailureKind | 'ok') {
  const requests: number[][] = [];
  const taken: number[] = [];
  const pauses: number[] = [];
  return {
    requests,
    taken,
    pauses,
    options: {
      async send(batch: number[]) {
        requests.push(batch);
        const v = verdict(batch);
        if (v !== 'ok') throw new Fail(v);
        taken.push(...batch);
      },
      classify: (err: unknown) => (err as Fail).kind,
      retries: 2,
      pause: async (round: number) => {
        pauses.push(round);
      },
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const ids = (refusals: { item: number }[]) => refusals.map((r) => r.item).sort((x, y) => x - y);

describe('pushSplitting', () => {
  test('a batch the peer takes is one request and nothing is refused', async () => {
    const p = peer(() => 'ok');
    expect(await pushSplitting([range(0, 100)], p.options)).toEqual([]);
    expect(p.requests).toHaveLength(1);
  });

  test('a 4xx culprit is found by halving and refused at once; the rest goes through', async () => {
    const p = peer((b) => (b.includes(37) ? 'refused' : 'ok'));
    const refused = await pushSplitting([range(0, 100)], p.options);
    expect(ids(refused)).toEqual([37]);
    expect(p.taken.sort((x, y) => x - y)).toEqual(range(0, 100).filter((i) => i !== 37));
    expect(p.pauses).toEqual([]);
  });

  test.each([0, 37, 99])(
    'an event the peer answers 500 for, at position %i, is refused after its retries; the rest goes through',
    async (poison) => {
      const p = peer((b) => (b.includes(poison) ? 'failing' : 'ok'));
      const refused = await pushSplitting([range(0, 100)], p.options);
      expect(ids(refused)).toEqual([poison]);
      expect(p.taken).toHaveLength(99);
      // Tried alone once while splitting, then twice more after a pause each.
      expect(p.requests.filter((b) => b.length === 1 && b[0] === poison)).toHaveLength(3);
      expect(p.pauses).toEqual([1, 2]);
    },
  );

  test('a lone event that fails once and then goes through is not refused', async () => {
    let failures = 0;
    const p = peer((b) => (b.includes(5) && failures++ < 1 ? 'failing' : 'ok'));
    expect(await pushSplitting([range(0, 10)], p.options)).toEqual([]);
    expect(p.taken.sort((x, y) => x - y)).toEqual(range(0, 10));
  });

  test('two poison events in different halves are both refused', async () => {
    const p = peer((b) => (b.includes(3) || b.includes(80) ? 'failing' : 'ok'));
    expect(ids(await pushSplitting([range(0, 100)], p.options))).toEqual([3, 80]);
    expect(p.taken).toHaveLength(98);
  });

  test('a peer that answers 500 to everything is an outage: it throws, refuses nothing, in few requests', async () => {
    const p = peer(() => 'failing');
    await expect(pushSplitting([range(0, 200)], p.options)).rejects.toBeInstanceOf(Fail);
    expect(p.taken).toEqual([]);
    expect(p.pauses).toEqual([]);
    // Bounded by the depth of the split, not by the 200 events.
    expect(p.requests.length).toBeLessThanOrEqual(30);
  });

  test('a lone event that fails while nothing else is pushed is not refused (no witness)', async () => {
    const p = peer(() => 'failing');
    await expect(pushSplitting([[1]], p.options)).rejects.toBeInstanceOf(Fail);
    expect(p.requests).toEqual([[1]]);
  });

  test('another store taking its push is the witness for a lone failing event', async () => {
    const p = peer((b) => (b.includes(1) ? 'failing' : 'ok'));
    const refused = await pushSplitting([[1], range(10, 20)], p.options);
    expect(ids(refused)).toEqual([1]);
    expect(p.taken.sort((x, y) => x - y)).toEqual(range(10, 20));
  });

  test('a store the peer fails on first does not hide that the peer takes another store', async () => {
    // Store X (0..99) fails whatever is sent; store Y (100..109) goes through.
    const p = peer((b) => (b.some((i) => i < 100) ? 'failing' : 'ok'));
    const refused = await pushSplitting([range(0, 100), range(100, 110)], p.options);
    expect(ids(refused)).toEqual(range(0, 100));
    expect(p.taken.sort((x, y) => x - y)).toEqual(range(100, 110));
  });

  test('a transient failure anywhere throws at once', async () => {
    const p = peer((b) => (b.length < 100 ? 'transient' : 'refused'));
    await expect(pushSplitting([range(0, 100)], p.options)).rejects.toMatchObject({ kind: 'transient' });
    expect(p.requests).toHaveLength(2);
  });

  test('a transient failure while retrying suspects throws, refusing nothing', async () => {
    let retrying = false;
    const p = peer((b) => {
      if (retrying) return 'transient';
      return b.includes(4) ? 'failing' : 'ok';
    });
    p.options.pause = async () => {
      retrying = true;
    };
    await expect(pushSplitting([range(0, 8)], p.options)).rejects.toMatchObject({ kind: 'transient' });
  });
});
