import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { installTemporalRuntime, PinoTemporalLogger } from '../../infra/temporal/logging';

/** Tests are quiet; TEST_LOG_LEVEL=debug shows the node's and Temporal's logs when one fails. */
export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** The Temporal server the tests use (set by the global setup, like DATABASE_URL). */
export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the tests with `npm test`');
  return address;
}

/** Test files share a namespace; task queues, workflow ids and schedule ids keep them apart. */
export function temporalNamespace(): string {
  return process.env.TEMPORAL_NAMESPACE ?? 'default';
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A client and a worker connection to the running server, with the SDK's logs sent to testLog. */
export function connectTestEnvironment(): Promise<TestWorkflowEnvironment> {
  installTemporalRuntime(testLog);
  return TestWorkflowEnvironment.createFromExistingServer({
    address: temporalAddress(),
    namespace: temporalNamespace(),
  });
}

/** The workflow bundle of the current code: build it once per test file (it takes seconds). */
export function bundleWorkflows(
  workflowsPath = require.resolve('../../workflows'),
): Promise<WorkflowBundleWithSourceMap> {
  installTemporalRuntime(testLog);
  return bundleWorkflowCode({ workflowsPath, logger: new PinoTemporalLogger(testLog) });
}

export const HISTORIES_DIR = `${__dirname}/../histories`;

/**
 * Saves a finished workflow's history for the replay test, when RECORD_HISTORIES=1 or when the
 * file does not exist yet. Returns whether it wrote the file.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<boolean> {
  const file = `${HISTORIES_DIR}/${name}.json`;
  if (process.env.RECORD_HISTORIES !== '1' && existsSync(file)) return false;
  const history = await handle.fetchHistory();
  // Stack traces in failures name this checkout's absolute path: keep the recording machine-neutral.
  const root = `${path.resolve(__dirname, '../..')}/`;
  const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)
    .split(root)
    .join('');
  writeFileSync(file, `${json}\n`);
  return true;
}
