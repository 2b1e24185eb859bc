/**
 * The logging surface the core needs. Both a pino Logger and Fastify's request logger satisfy it, so
 * a request's log (with its request id) flows into the ingest and projection code.
 */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
