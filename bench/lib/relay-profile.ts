/**
 * What PeerRelay did during a phase, read from the actor's own Temporal history: nudges, batches and
 * their size, activity schedule-to-start and run time, the workflow's turnaround between batches.
 * Used by bench/replication.ts.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { relayWorkflowId } from '../../workflows/ids';
import { ms, summary, table, type Summary } from './stats';

const EventType = temporal.api.enums.v1.EventType;

export interface Profile {
  nudges: number;
  batches: number;
  eventsPerBatch: { mean: number; max: number };
  scheduleToStart: Summary;
  run: Summary;
  turnaround: Summary;
  wake: Summary;
  historyEvents: number;
  runs: number;
  /** Per batch (wall ms): scheduled, started, completed, events read. */
  timeline: { scheduled: number; started: number | undefined; completed: number; read: number }[];
}

function payloadJson(p: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const data = p?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

/** The relay `from` → `to` (workflow relay:from:to) over a wall-clock window. */
export async function relayProfile(
  client: Client,
  window: { from: number; to: number },
  relay: [from: string, to: string] = ['a', 'b'],
): Promise<Profile> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let runs = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${relayWorkflowId(...relay)}'` })) {
    if (wf.closeTime && wf.closeTime.getTime() < window.from) continue;
    if (wf.startTime.getTime() > window.to) continue;
    runs += 1;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    events.push(...(history.events ?? []));
  }
  const time = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const inWindow = events
    .filter((e) => time(e) >= window.from && time(e) <= window.to)
    .sort((x, y) => time(x) - time(y));
  const scheduled = new Map<string, { at: number; id: number }>();
  const started = new Map<number, number>();
  const sched2start: number[] = [];
  const runTimes: number[] = [];
  const turnaround: number[] = [];
  const wake: number[] = [];
  const sizes: number[] = [];
  const timeline: Profile['timeline'] = [];
  let nudges = 0;
  let lastCompleted: number | null = null;
  let signalSinceCompleted: number | null = null;
  let batches = 0;
  for (const e of inWindow) {
    const t = time(e);
    const id = Number(e.eventId);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        if (e.workflowExecutionSignaledEventAttributes?.signalName === 'nudge') {
          nudges += 1;
          if (lastCompleted !== null && signalSinceCompleted === null) signalSinceCompleted = t;
        }
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        if (e.activityTaskScheduledEventAttributes?.activityType?.name !== 'relayBatch') break;
        scheduled.set(String(id), { at: t, id });
        if (lastCompleted !== null) {
          // Right after a batch (a nudge came during it, or it was full): the workflow's own turnaround.
          // After an idle wait: from the nudge that woke it.
          if (signalSinceCompleted === null || signalSinceCompleted <= lastCompleted)
            turnaround.push(t - lastCompleted);
          else wake.push(t - signalSinceCompleted);
        }
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const s = scheduled.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId));
        if (s) {
          started.set(s.id, t);
          sched2start.push(t - s.at);
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = e.activityTaskCompletedEventAttributes;
        const s = scheduled.get(String(attrs?.scheduledEventId));
        if (!s) break;
        const st = started.get(s.id);
        if (st !== undefined) runTimes.push(t - st);
        const r = payloadJson(attrs?.result) as { read?: number } | undefined;
        timeline.push({ scheduled: s.at, started: st, completed: t, read: r?.read ?? 0 });
        if (r?.read) {
          sizes.push(r.read);
          batches += 1;
        }
        lastCompleted = t;
        signalSinceCompleted = null;
        break;
      }
    }
  }
  return {
    nudges,
    batches,
    eventsPerBatch: {
      mean: sizes.length ? sizes.reduce((x, y) => x + y, 0) / sizes.length : 0,
      max: sizes.length ? Math.max(...sizes) : 0,
    },
    scheduleToStart: summary(sched2start),
    run: summary(runTimes),
    turnaround: summary(turnaround),
    wake: summary(wake),
    historyEvents: inWindow.length,
    runs,
    timeline,
  };
}

/** One row per phase (its label, e.g. the rate): the profile as a table, with how to read it. */
export function profileTable(profiles: [label: string, p: Profile][]): string {
  return [
    table(
      [
        'rate',
        'nudges',
        'batches',
        'events/batch',
        'sched→start p50/p95/max',
        'run p50/p95/max',
        'turnaround p50/p95/max',
        'nudge→batch p50/p95/max',
        'history events',
      ],
      profiles.map(([label, p]) => [
        label,
        `${p.nudges}`,
        `${p.batches}`,
        `${p.eventsPerBatch.mean.toFixed(1)} (max ${p.eventsPerBatch.max})`,
        `${ms(p.scheduleToStart.p50)} / ${ms(p.scheduleToStart.p95)} / ${ms(p.scheduleToStart.max)}`,
        `${ms(p.run.p50)} / ${ms(p.run.p95)} / ${ms(p.run.max)}`,
        `${ms(p.turnaround.p50)} / ${ms(p.turnaround.p95)} / ${ms(p.turnaround.max)} (${p.turnaround.n})`,
        `${ms(p.wake.p50)} / ${ms(p.wake.p95)} / ${ms(p.wake.max)} (${p.wake.n})`,
        `${p.historyEvents}${p.runs > 1 ? ` (${p.runs} runs)` : ''}`,
      ]),
    ),
    '',
    'run = relayBatch activity start to completion (read the log, order, push to B, B ingests); ' +
      'turnaround = batch completed → next batch scheduled when a nudge was already pending or the batch was full ' +
      '(one workflow task); nudge→batch = first nudge after an idle wait → batch scheduled.',
  ].join('\n');
}

/** The batches of a profile as JSON lines (seconds from `from`, schedule→start and run ms, events read). */
export function timelineSamples(p: Profile, from: number, tags: Record<string, unknown>): string {
  const at = (w: number) => Math.round(w - from) / 1000;
  const lines = p.timeline.map((x) =>
    JSON.stringify({
      ...tags,
      mode: 'batch',
      t: at(x.scheduled),
      schedToStart: x.started === undefined ? null : x.started - x.scheduled,
      run: x.started === undefined ? null : x.completed - x.started,
      read: x.read,
    }),
  );
  return lines.join('\n') + '\n';
}
