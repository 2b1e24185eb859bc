import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { connectWorker, createNodeWorker } from '../../../app/worker';
import { sql } from 'kysely';
import { connectTemporal } from '../../../infra/temporal/client';
import { raiseAlert } from '../../../infra/repositories/alerts';
import { saveSnapshot } from '../../../infra/repositories/health-snapshots';
import { temporalCli } from '../../../scripts/services';
import { ADMIN_SECRET, createTestApp, storeWithDevice, testConfig, type TestApp } from '../../support/app';
import { DeviceSim } from '../../support/events';
import { push } from '../../support/projections';
import {
  bundleWorkflows,
  temporalAddress,
  temporalNamespace,
  testLog,
  uniqueName,
} from '../../support/temporal';

// The incident runbook cannot drift from the code: every `sql` block of both languages runs against
// the real schema (with a store that has the problems the runbook treats), every `bash` block against
// a real node, and the two languages carry the same commands.

const RUNBOOKS = ['federation-incidents.en.md', 'federation-incidents.md'].map((f) =>
  path.join(__dirname, '../../../docs/runbooks', f),
);
const run = promisify(execFile);

function blocks(file: string, lang: 'sql' | 'bash'): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  return [...text.matchAll(re)].map((m) => m[1]!.trim());
}

let app: TestApp;
let nativeConnection: NativeConnection | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let connection: Connection;
let client: Client;
let base: string;
let shim: string;
const storeId = randomUUID();
const peerId = 'cloud';

beforeAll(async () => {
  const overrides = {
    TEMPORAL_TASK_QUEUE: uniqueName('runbook'),
    PEERS: JSON.stringify([{ id: peerId, url: 'http://127.0.0.1:9', token: 'peer-token-0123456789abcdef' }]),
  };
  const config = testConfig(overrides);
  const bundle = bundleWorkflows();
  ({ connection, client } = await connectTemporal(config));
  app = await createTestApp(overrides, { temporal: client });
  // A worker for the commands that run workflows (the self-check the runbook asks for).
  nativeConnection = await connectWorker(config);
  worker = await createNodeWorker({
    config: app.config,
    db: app.t.db,
    log: testLog,
    connection: nativeConnection,
    workflowBundle: await bundle,
  });
  running = worker.run();
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await storeWithDevice(app, storeId);
  // The problems the runbook treats: a sale missing from its read model, negative stock, a duplicate
  // fiscal number, an alert, a snapshot.
  const d = new DeviceSim(storeId, 'pos-1');
  const product = randomUUID();
  const series = randomUUID();
  const sales = [1, 1].map((n) =>
    d.event('SaleCreated', {
      sale_id: randomUUID(),
      items: [{ product_id: product, qty: 1, unit_price: 3 }],
      invoice_series_id: series,
      fiscal_number: n,
    }),
  );
  await push(app.t.db, sales);
  await app.t.db.deleteFrom('sales').where('event_id', '=', sales[0]!.event_id).execute();
  await raiseAlert(app.t.db, {
    type: 'OVERSELLING_DETECTED',
    severity: 'P2',
    store_id: storeId,
    subject: 'x',
  });
  await saveSnapshot(app.t.db, {
    store_id: storeId,
    taken_at: new Date(),
    overall: 'critical',
    report: { metrics: {} },
  });
  shim = fs.mkdtempSync(path.join(os.tmpdir(), 'runbook-'));
  fs.symlinkSync(temporalCli(), path.join(shim, 'temporal'));
});

afterAll(async () => {
  // The reconcile the runbook starts has no worker here: end it.
  for await (const wf of client.workflow.list({
    query: `StoreId = '${storeId}' AND ExecutionStatus = 'Running'`,
  })) {
    await client.workflow
      .getHandle(wf.workflowId)
      .terminate('runbook test done')
      .catch(() => undefined);
  }
  if (worker) {
    worker.shutdown();
    await running;
  }
  await nativeConnection?.close();
  await app?.close();
  await connection?.close();
  if (shim) fs.rmSync(shim, { recursive: true, force: true });
});

test('both languages carry the same queries and commands', () => {
  const [en, es] = RUNBOOKS;
  expect(blocks(es!, 'sql')).toEqual(blocks(en!, 'sql'));
  expect(blocks(es!, 'bash')).toEqual(blocks(en!, 'bash'));
  expect(blocks(en!, 'sql').length).toBeGreaterThanOrEqual(10);
  expect(blocks(en!, 'bash').length).toBeGreaterThanOrEqual(8);
});

test('every SQL block runs against the real schema and finds what the runbook says it finds', async () => {
  const results = new Map<string, number>();
  for (const query of blocks(RUNBOOKS[0]!, 'sql')) {
    const text = query.replaceAll(':store_id', `'${storeId}'`);
    // Fixes change data: run each in a transaction rolled back, so the next query sees the problems.
    await app.t.db
      .transaction()
      .execute(async (trx) => {
        const r = await sql.raw(text).execute(trx);
        results.set(query.split('\n')[0]!, r.rows.length + Number(r.numAffectedRows ?? 0));
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw new Error(`runbook query failed: ${err.message}\n${text}`);
      });
  }
  const first = (prefix: string) => [...results].find(([k]) => k.startsWith(prefix))?.[1];
  // The gap, the negative stock and the duplicate are found (not just "the query parses").
  expect(first('SELECT e.event_id, e.device_id')).toBe(1);
  expect(first('SELECT product_id, warehouse_id, stock FROM warehouse_stock')).toBe(1);
  expect(first('UPDATE events SET projection_status')).toBe(1);
});

test('every bash block runs against a real node and succeeds', async () => {
  const env = {
    ...process.env,
    PATH: `${shim}:${process.env.PATH}`,
    NODE: base,
    ADMIN_SECRET,
    STORE_ID: storeId,
    PEER_ID: peerId,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: temporalNamespace(),
  };
  for (const command of blocks(RUNBOOKS[0]!, 'bash')) {
    const out = await run('bash', ['-euo', 'pipefail', '-c', command], { env, timeout: 30_000 }).catch(
      (err: Error & { stderr?: string }) => {
        throw new Error(`runbook command failed: ${command}\n${err.stderr ?? err.message}`);
      },
    );
    expect(out.stdout.length).toBeGreaterThan(0);
  }
});
