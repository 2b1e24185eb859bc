import {
  assertSameProjections,
  ChaosNetwork,
  checkLogs,
  deadLetters,
  formatTable,
  recordFigures,
  storeHealth,
  storeWithDevices,
  waitConverged,
} from '../support/chaos';
import type { TestPostgres, TestTemporal } from '../support/faults';
import { eventually, type TestNode } from '../support/nodes';
import { Till, tillDay, Traffic } from '../support/traffic';

// The fault matrix (issue 18, item 1; docs/reliability.md): two real nodes, each an API process and
// a worker process, on a PostgreSQL cluster and a Temporal dev server of this test's own, linked
// through TCP relays the test cuts. Under steady till traffic on both nodes (one event per push,
// several devices per node, events of every till type), each fault is injected and repaired; then
// every acknowledged event is on both nodes exactly once, the read models are identical, the relays
// are at lag 0 with their circuits closed, no event is in the dead letters and health is `healthy`.
// A table of the figures is printed at the end.
//
// CHAOS_PROFILE=full (npm run test:chaos) runs every fault with more traffic; the short profile
// (npm test) runs a subset. CHAOS_FAULTS=name,name picks faults by name.

const FULL = process.env.CHAOS_PROFILE === 'full';
const DEVICES_PER_NODE = 3;
/** Acknowledged events before the fault and after its repair, per fault. */
const BEFORE = FULL ? 150 : 40;
const AFTER = FULL ? 150 : 40;
/** How long a fault lasts before it is repaired. */
const OUTAGE_MS = FULL ? 5000 : 2500;
/** Between two pushes of one till (6 tills: about 60 pushes a second at most, on two cores). */
const INTERVAL_MS = 50;

let a: TestNode;
let b: TestNode;
let postgres: TestPostgres;
let temporal: TestTemporal;
const chaos = new ChaosNetwork();
const links = chaos.links;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fault {
  name: string;
  short: boolean;
  /** Injects the fault, waits OUTAGE_MS, repairs it; resolves once the repair is done. */
  inject(): Promise<void>;
}

const FAULTS: Fault[] = [
  {
    name: 'kill -9 worker',
    short: true,
    async inject() {
      await a.stopPart('worker', 'SIGKILL');
      await sleep(OUTAGE_MS);
      await a.start();
    },
  },
  {
    name: 'kill -9 API',
    short: false,
    async inject() {
      await b.stopPart('api', 'SIGKILL');
      await sleep(OUTAGE_MS);
      await b.start();
    },
  },
  {
    name: 'kill -9 node',
    short: false,
    async inject() {
      await a.stop('SIGKILL');
      await sleep(OUTAGE_MS);
      await a.start();
    },
  },
  {
    name: 'PostgreSQL restart (fast)',
    short: false,
    async inject() {
      postgres.stop('fast');
      await sleep(OUTAGE_MS);
      postgres.restart();
    },
  },
  {
    name: 'PostgreSQL restart (immediate)',
    short: true,
    async inject() {
      postgres.stop('immediate');
      await sleep(OUTAGE_MS);
      postgres.restart();
    },
  },
  {
    name: 'Temporal stop + restart',
    short: false,
    async inject() {
      await temporal.stop();
      await sleep(OUTAGE_MS);
      await temporal.restart();
    },
  },
  {
    name: 'link cut + heal',
    // In the short profile the random schedule of seed 9 cuts and heals the link.
    short: false,
    async inject() {
      links.cut();
      await sleep(OUTAGE_MS * 2);
      links.heal();
    },
  },
];

const picked = process.env.CHAOS_FAULTS?.split(',').map((s) => s.trim());
const faults = FAULTS.filter((f) => (picked ? picked.includes(f.name) : FULL || f.short));
const figures: (string | number)[][] = [];

beforeAll(async () => {
  ({ a, b, postgres, temporal } = await chaos.start('fault'));
}, 240_000);

afterAll(async () => {
  if (figures.length > 0) {
    console.log(
      `fault matrix (${FULL ? 'full' : 'short'} profile, ${DEVICES_PER_NODE} tills per node, ${OUTAGE_MS} ms outage):\n` +
        formatTable(
          ['fault', 'pushes acknowledged', 'attempts retried', 'lost', 'duplicated', 'time to converge (ms)'],
          figures,
        ),
    );
  }
  await chaos.close();
}, 120_000);

test.each(faults.map((f) => [f.name, f] as const))(
  'after %s, every acknowledged event is on both nodes once and they converge',
  async (_name, fault) => {
    const { storeId, devices } = await storeWithDevices([a, b], DEVICES_PER_NODE);
    const traffic = new Traffic(devices.map((d) => new Till(d, tillDay(d), { intervalMs: INTERVAL_MS })));
    traffic.start();
    let repaired: number;
    try {
      await traffic.waitAcked(BEFORE);
      await fault.inject();
      repaired = Date.now();
      await traffic.waitAcked(AFTER, 120_000);
    } finally {
      await traffic.stop();
    }
    const stats = traffic.stats;
    expect({ refused: stats.refused, internalErrors: stats.internalErrors }).toEqual({
      refused: [],
      internalErrors: [],
    });

    await waitConverged(a, b, [storeId], traffic.acked);
    const convergeMs = Date.now() - repaired;
    const logs = await checkLogs([a, b], [storeId], traffic.acked);
    figures.push([
      fault.name,
      stats.acked,
      stats.retries,
      logs.lost.length,
      logs.duplicated.length,
      convergeMs,
    ]);
    recordFigures('fault-matrix', `${FULL ? 'full' : 'short'} ${JSON.stringify(figures.at(-1))}`);
    expect(logs).toEqual({ lost: [], duplicated: [], onlyOnOne: [] });

    await assertSameProjections(a, b, [storeId]);
    for (const node of [a, b]) {
      expect({ node: node.id, deadLetters: await deadLetters(node, [storeId]) }).toEqual({
        node: node.id,
        deadLetters: [],
      });
      // Health reads the relay and the peer probe live: healthy once both are back.
      await eventually(
        `${node.id} healthy after ${fault.name}`,
        () => storeHealth(node, storeId),
        (h) => h.overallHealth === 'healthy',
        60_000,
      );
    }
    expect({ crashes: [...a.crashes, ...b.crashes] }).toEqual({ crashes: [] });
  },
  300_000,
);
