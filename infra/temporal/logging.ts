import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from 'pino';

const LEVELS = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * Temporal's logger interface on top of pino: SDK, worker, workflow (`log` from the workflow API)
 * and activity log lines come out as structured pino lines with their Temporal metadata.
 */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.pino[LEVELS[level]](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.pino.trace(meta ?? {}, message);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.pino.debug(meta ?? {}, message);
  }
  info(message: string, meta?: LogMetadata): void {
    this.pino.info(meta ?? {}, message);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.pino.warn(meta ?? {}, message);
  }
  error(message: string, meta?: LogMetadata): void {
    this.pino.error(meta ?? {}, message);
  }
}

/**
 * Routes the Temporal runtime's logs (including the Rust core's, at WARN and above) through pino.
 * The runtime is a process-wide singleton that can be configured only before its first use (the
 * first connection or worker), so call this early; later calls leave the runtime as it is and
 * return false.
 */
export function installTemporalRuntime(log: Logger, options: Omit<RuntimeOptions, 'logger'> = {}): boolean {
  if (Runtime._instance !== undefined) return false;
  Runtime.install({
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
    ...options,
    logger: new PinoTemporalLogger(log.child({ component: 'temporal' })),
  });
  return true;
}
