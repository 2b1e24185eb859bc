import { proxyActivities } from '@temporalio/workflow';
import type { Activities, OversellPassResult } from '../activities';
import { databaseBatch } from './profiles';

const { detectOverselling } = proxyActivities<Activities>(databaseBatch);

/**
 * OversellDetector: one pass per run over negative stock (seed 003, deliverable 14). The
 * `oversell-detector` Schedule starts it every OVERSELL_DETECTOR_INTERVAL_SECONDS with overlap SKIP.
 */
export async function oversellDetectorWorkflow(): Promise<OversellPassResult> {
  return detectOverselling();
}
