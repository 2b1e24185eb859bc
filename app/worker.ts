import { Context } from '@temporalio/activity';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import { createFiscalExhaustionSignaller } from '../actors/fiscal';
import { buildHealthReport } from '../actors/health';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { createMetrics, type Metrics } from '../infra/metrics';
import { PinoTemporalLogger } from '../infra/temporal/logging';

export interface NodeWorkerOptions {
  config: Config;
  db: Db;
  log: Logger;
  connection: NativeConnection;
  /** Where activities count (the API's registry in a combined process); a registry of its own if not given. */
  metrics?: Metrics;
  /** A prebuilt bundle (tests build one per file); otherwise `workflows/` is bundled at start. */
  workflowBundle?: WorkflowBundleOption;
}

/** The worker's own connection (the client's `Connection` cannot be shared with a worker). */
export function connectWorker(config: Pick<Config, 'TEMPORAL_ADDRESS'>): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
}

/**
 * The node's worker: every workflow and activity on one task queue in this node's namespace.
 * Call `run()` to poll and `shutdown()` to drain.
 */
export async function createNodeWorker({
  config,
  db,
  log,
  connection,
  metrics = createMetrics(),
  workflowBundle,
}: NodeWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: workflowBundle ?? (await bundleNodeWorkflows(log)),
    activities: createActivities({
      db,
      log,
      config,
      metrics,
      // The report asks the relay actors and Temporal's visibility: through the worker's own client.
      healthReport: (storeId) =>
        buildHealthReport({ db, config, temporal: Context.current().client }, storeId),
      onFiscalExhausted: (ranges) =>
        createFiscalExhaustionSignaller(Context.current().client, config, log)(ranges),
    }),
    // A healing pass is one short transaction: let it commit rather than cancel it mid-way.
    shutdownGraceTime: '10 seconds',
  });
}

/**
 * Bundles `workflows/` as `workflowsPath` would, but with webpack's build report (dozens of lines
 * logged at INFO on every start) kept to warnings and errors.
 */
export async function bundleNodeWorkflows(log: Logger): Promise<WorkflowBundleOption> {
  const bundlerLog = log.child({ component: 'workflow-bundler' });
  if (bundlerLog.levelVal < 40) bundlerLog.level = 'warn';
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new PinoTemporalLogger(bundlerLog),
  });
  log.debug({ bytes: code.length }, 'workflow bundle built');
  return { code };
}
