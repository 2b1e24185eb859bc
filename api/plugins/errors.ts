import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { databaseFailure } from '../../infra/db/errors';
import { AppError } from '../errors';

/** Fastify's own client-error codes, mapped to our codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
};

/**
 * What a client is told when the database is out of reach or too busy: both are worth retrying,
 * after about this many seconds (Retry-After).
 */
export const DATABASE_RETRY_AFTER_SECONDS = { unavailable: 5, busy: 1 } as const;

const DATABASE_ANSWERS = {
  unavailable: {
    code: 'DATABASE_UNAVAILABLE',
    message: 'the database is unreachable; retry later',
  },
  busy: {
    code: 'DB_BUSY',
    message: 'the database did not answer in time (lock or statement timeout); retry',
  },
} as const;

/**
 * One error handler: validation → 400 naming each field, AppError → its status and code, client
 * errors Fastify raises (bad JSON, too large) → their 4xx, the database unreachable or timing out →
 * a retryable 503 with Retry-After, anything else → a generic 500 that is logged with the request but
 * never leaks internals.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
        message: v.message ?? 'invalid',
      }));
      const first = details[0];
      return reply.status(400).send({
        error: {
          code: 'VALIDATION_FAILED',
          message: first ? `${first.path}: ${first.message}` : 'request is invalid',
          details,
        },
      });
    }
    if (err instanceof AppError) {
      return reply.status(err.statusCode).send({
        error: {
          code: err.code,
          message: err.message,
          ...(err.details === undefined ? {} : { details: err.details }),
        },
      });
    }
    if (err.statusCode === 429) {
      return reply.status(429).send({ error: { code: 'RATE_LIMITED', message: err.message } });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      const code = FASTIFY_CODES[err.code] ?? 'BAD_REQUEST';
      const message =
        code === 'PAYLOAD_TOO_LARGE'
          ? `request body exceeds the limit of ${app.initialConfig.bodyLimit} bytes`
          : err.message;
      return reply.status(err.statusCode).send({ error: { code, message } });
    }
    const failure = databaseFailure(err);
    if (failure) {
      request.log.warn({ err: { message: err.message, code: err.code } }, `database ${failure}`);
      return reply
        .status(503)
        .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS[failure]))
        .send({ error: DATABASE_ANSWERS[failure] });
    }
    request.log.error({ err }, 'unhandled error');
    return reply
      .status(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error; see the node logs' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );
});
