/**
 * Summarises a V8 .cpuprofile (from `npm run bench:ingest -- --cpu-prof=DIR`): self time by
 * function and by package/file, and inclusive time of the node's own functions.
 *
 *   npx tsx bench/cpuprofile-summary.ts DIR/CPU.*.cpuprofile [--top=25]
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv.find((a, i) => i >= 2 && !a.startsWith('--'));
if (!file) {
  console.error('usage: tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top=25]');
  process.exit(2);
}
const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const root = path.resolve(__dirname, '..');

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node, in µs, from the samples and their deltas.
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((s, v) => s + v, 0);

function where(f: CallFrame): string {
  if (!f.url) return '(native)';
  const p = f.url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = p.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (p.startsWith('node:')) return p;
  // The project's own files, wherever the profiled checkout lives.
  const own = /\/((?:api|domain|infra|actors|app|activities|workflows|bench|migrations)\/.*)$/.exec(p);
  return own ? own[1]! : path.relative(root, p);
}

function label(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${where(f)}:${f.lineNumber + 1}`;
}

function add(map: Map<string, number>, key: string, v: number) {
  map.set(key, (map.get(key) ?? 0) + v);
}

const selfByFn = new Map<string, number>();
const selfByPlace = new Map<string, number>();
// Inclusive time of our own code, each function counted once per sample stack.
const OWN_CODE = ['api/', 'domain/', 'infra/', 'actors/', 'app/', 'activities/'];
const inclusiveOwn = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  add(selfByFn, label(n.callFrame), us);
  add(selfByPlace, where(n.callFrame), us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur)!.callFrame;
    const w = where(f);
    if (!OWN_CODE.some((dir) => w.startsWith(dir))) continue;
    const key = label(f);
    if (seen.has(key)) continue;
    seen.add(key);
    add(inclusiveOwn, key, us);
  }
}

function print(title: string, map: Map<string, number>, n: number) {
  console.log(`\n${title}`);
  for (const [k, v] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(
      `${(v / 1000).toFixed(0).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`,
    );
  }
}

const wall = (profile.endTime - profile.startTime) / 1000;
const idle = selfByFn.get('(idle)') ?? 0;
console.log(
  `profile ${path.basename(file)}: ${wall.toFixed(0)} ms wall, ${(total / 1000).toFixed(0)} ms sampled, ` +
    `idle ${(idle / 1000).toFixed(0)} ms (${((100 * idle) / total).toFixed(1)} %)`,
);
print('self time by package / file', selfByPlace, top);
print('self time by function', selfByFn, top);
print(`inclusive time, functions of ${OWN_CODE.join(' ')}`, inclusiveOwn, top);
