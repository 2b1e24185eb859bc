/**
 * Times every statement a node process sends to PostgreSQL, from inside that process: it wraps
 * `pg.Client.prototype.query`, below the node's own database pool (infra/db's createDb, with its
 * named prepared statements and session settings), so the trace sees exactly the statements, the
 * protocol and the connections of an untraced run. Optionally loads auto_explain on each connection
 * before its first statement and keeps a sample of the plans (as notices) for each statement.
 * Bench-side: the node's code is untouched.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

interface StatementStat {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** A statement's identity for the trace: its text with whitespace collapsed, cut short. */
function statementKey(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 110);
}

export interface SqlTraceOptions {
  /** FILE: the plan of the median-duration sample of each statement is written there by `report`. */
  explainFile?: string;
  /** Share of statements auto_explain analyses (0..1). */
  explainRate?: number;
}

export function installSqlTrace(o: SqlTraceOptions = {}): { report(): void } {
  const stats = new Map<string, StatementStat>();
  const plans = new Map<string, { ms: number; plan: string }[]>();
  const explained = new WeakSet<pg.Client>();
  const onNotice = (msg: { message?: string }) => {
    const m = /^duration: ([\d.]+) ms\s+plan:\n([\s\S]*)$/.exec(msg.message ?? '');
    if (!m) return;
    const text = /Query Text: ([\s\S]*?)\n\S/.exec(m[2]!)?.[1] ?? m[2]!;
    const key = statementKey(text);
    const list = plans.get(key) ?? [];
    if (list.length < 2000) list.push({ ms: Number(m[1]), plan: m[2]! });
    plans.set(key, list);
  };
  const setup =
    `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; ` +
    `SET auto_explain.log_buffers = on; SET auto_explain.log_level = 'notice'; ` +
    `SET auto_explain.sample_rate = ${Number(o.explainRate ?? 0.1)}; SET client_min_messages = 'notice'`;
  const record = (text: string, ms: number) => {
    const key = statementKey(text);
    const s = stats.get(key) ?? { count: 0, totalMs: 0, maxMs: 0 };
    s.count++;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    stats.set(key, s);
  };

  type Query = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    const [config, values, callback] = args;
    const text = typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text;
    // Callback and submittable (cursor, stream) forms are not what the node's pool sends: untimed.
    const plain =
      typeof text === 'string' &&
      typeof values !== 'function' &&
      typeof callback !== 'function' &&
      typeof (config as { submit?: unknown }).submit !== 'function';
    if (!plain) return original.apply(this, args);
    if (o.explainFile && !explained.has(this)) {
      explained.add(this);
      this.on('notice', onNotice);
      // Queued ahead of the statement on the same connection.
      (original.call(this, setup) as Promise<unknown>).catch((err: unknown) =>
        process.stderr.write(`auto_explain: ${String(err)}\n`),
      );
    }
    const started = performance.now();
    return (original.apply(this, args) as Promise<unknown>).then(
      (result) => {
        record(text, performance.now() - started);
        return result;
      },
      (err: unknown) => {
        record(text, performance.now() - started);
        throw err;
      },
    );
  };

  return {
    report() {
      printTrace(stats);
      if (o.explainFile) writePlans(o.explainFile, plans);
    },
  };
}

function printTrace(stats: Map<string, StatementStat>): void {
  const rows = [...stats.entries()].sort((a, b) => b[1].totalMs - a[1].totalMs);
  const total = rows.reduce((s, [, v]) => s + v.totalMs, 0);
  const lines = ["SQL trace (the node's own pool, client-side: includes lock waits and round trip):"];
  lines.push(
    `${'total ms'.padStart(9)} ${'share'.padStart(6)} ${'count'.padStart(7)} ${'avg ms'.padStart(7)} ${'max ms'.padStart(7)}  statement`,
  );
  for (const [key, v] of rows) {
    lines.push(
      `${v.totalMs.toFixed(0).padStart(9)} ${((100 * v.totalMs) / total).toFixed(1).padStart(5)}% ${String(v.count).padStart(7)} ` +
        `${(v.totalMs / v.count).toFixed(2).padStart(7)} ${v.maxMs.toFixed(1).padStart(7)}  ${key}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

function writePlans(file: string, plans: Map<string, { ms: number; plan: string }[]>): void {
  const out: string[] = [];
  const median = (list: { ms: number; plan: string }[]) =>
    [...list].sort((a, b) => a.ms - b.ms)[Math.floor(list.length / 2)]!;
  const entries = [...plans.entries()].map(([key, list]) => {
    const q = Math.max(1, Math.floor(list.length / 4));
    // Samples arrive in run order: the first and last quarter show whether a statement slows down as tables grow.
    return {
      key,
      n: list.length,
      median: median(list),
      first: median(list.slice(0, q)),
      last: median(list.slice(-q)),
    };
  });
  for (const e of entries.sort((a, b) => b.median.ms - a.median.ms)) {
    out.push(
      `=== ${e.key}\n--- median of ${e.n} sampled: ${e.median.ms.toFixed(2)} ms ` +
        `(first quarter ${e.first.ms.toFixed(2)} ms, last quarter ${e.last.ms.toFixed(2)} ms)\n${e.median.plan}\n`,
    );
  }
  fs.writeFileSync(file, out.join('\n'));
  process.stderr.write(`auto_explain: ${entries.length} statement plans written to ${file}\n`);
}
