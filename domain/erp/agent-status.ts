import type { AgentStatus } from './schemas';

export interface StatusThresholds {
  degradedMs: number;
  offlineMs: number;
}

/**
 * An agent's status from its last heartbeat (the seed: online, degraded after 60 s without one,
 * offline after 300 s). Never heard from is offline. Computed on read, so it is always current and
 * needs no job to move it along.
 */
export function agentStatus(lastHeartbeat: Date | null, now: Date, t: StatusThresholds): AgentStatus {
  if (!lastHeartbeat) return 'offline';
  const silent = now.getTime() - lastHeartbeat.getTime();
  if (silent > t.offlineMs) return 'offline';
  if (silent > t.degradedMs) return 'degraded';
  return 'online';
}
