import { PROFILES, runFuzz } from '../../../scripts/fuzz';

// The short profile of scripts/fuzz.ts (npm run test:fuzz runs the full one): schemathesis against
// /docs/json of a real node, with device, peer, ERP agent and admin credentials. A fixed seed keeps the build
// reproducible (FUZZ_SEED=<n> tries another); the failing requests are printed with a curl line.
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

test('fuzzing the OpenAPI document: no 5xx, every response in its declared status and schema', async () => {
  const lines: string[] = [];
  const report = await runFuzz({ profile: PROFILES.short, seed: SEED, log: (line) => lines.push(line) });
  console.log(lines.join('\n'));
  expect(report.runs.map((r) => [r.role, r.failures])).toEqual([
    ['device', ''],
    ['peer', ''],
    ['agent', ''],
    ['admin', ''],
  ]);
  // Each credential got past authentication: a run of 401s would fuzz nothing behind it.
  for (const run of report.runs) expect([run.role, (run.byClass['2xx'] ?? 0) > 0]).toEqual([run.role, true]);
  expect(report.byClass['5xx'] ?? 0).toBe(0);
  expect(report.cases).toBeGreaterThanOrEqual(100);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}, 600_000);
