import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { cachedCheck } from '../cached-check';

/** Resolves when a worker serves the node's task queue; rejects with a message naming what is wrong. */
export type WorkerCheck = () => Promise<void>;

/** In a process that runs the worker role: that worker, by its state. */
export function workerStateCheck(worker: Pick<Worker, 'getState'>, taskQueue: string): WorkerCheck {
  return () => {
    const state = worker.getState();
    if (state === 'RUNNING') return Promise.resolve();
    return Promise.reject(new Error(`the worker of task queue ${taskQueue} is ${state}`));
  };
}

export interface PollerCheckOptions {
  namespace: string;
  taskQueue: string;
  /** One describeTaskQueue per this many ms, whatever the rate of /healthz. */
  cacheMs?: number;
  /**
   * A poller counts as alive when it polled within this many ms. An idle worker re-polls when its
   * long poll expires (about a minute), so this must be longer than that.
   */
  maxPollerAgeMs?: number;
}

/**
 * In an API-only process: some worker polls the node's task queue (Temporal's poller list). The
 * answer is cached, and concurrent checks share one call, so a flood of /healthz costs Temporal one
 * request per cacheMs.
 */
export function taskQueuePollerCheck(
  client: Pick<Client, 'workflowService'>,
  { namespace, taskQueue, cacheMs = 5000, maxPollerAgeMs = 90_000 }: PollerCheckOptions,
): WorkerCheck {
  const ask = async () => {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    const now = Date.now();
    const alive = (pollers ?? []).filter((p) => {
      const seconds = p.lastAccessTime?.seconds;
      return seconds != null && now - Number(seconds) * 1000 <= maxPollerAgeMs;
    });
    if (alive.length === 0) {
      throw new Error(`no worker polls task queue ${taskQueue} in namespace ${namespace}`);
    }
  };
  return cachedCheck(ask, cacheMs);
}
