import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { databaseFailure } from '../../infra/db/errors';
import { ApiError, AppError, issueDetails, type ApiErrorCode } from '../../domain/errors';

/** Fastify's own client-error codes, mapped to our codes. */
const FASTIFY_CODES: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ApiError.payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ApiError.unsupportedMediaType,
  FST_ERR_CTP_EMPTY_JSON_BODY: ApiError.invalidJson,
  FST_ERR_CTP_INVALID_JSON_BODY: ApiError.invalidJson,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ApiError.invalidContentLength,
};

/**
 * What a client is told when the database is out of reach or too busy: both are worth retrying,
 * after about this many seconds (Retry-After).
 */
export const DATABASE_RETRY_AFTER_SECONDS = { unavailable: 5, busy: 1 } as const;

const DATABASE_ANSWERS = {
  unavailable: {
    code: ApiError.databaseUnavailable,
    message: 'the database is unreachable; retry later',
  },
  busy: {
    code: ApiError.databaseBusy,
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
      // The zod issues, as fastify-type-provider-zod hands them over (their path as a JSON pointer).
      const details = issueDetails(
        err.validation.map((v) => ({
          path: v.instancePath.split('/').filter((p) => p !== ''),
          message: v.message ?? 'invalid',
        })),
        [err.validationContext ?? 'body'],
      );
      const first = details[0];
      return reply.status(400).send({
        error: {
          code: ApiError.validationFailed,
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
      return reply.status(429).send({ error: { code: ApiError.rateLimited, message: err.message } });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      const code = FASTIFY_CODES[err.code] ?? ApiError.badRequest;
      const message =
        code === ApiError.payloadTooLarge
          ? `request body exceeds the limit of ${request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit} bytes`
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
      .send({ error: { code: ApiError.internal, message: 'internal error; see the node logs' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: ApiError.notFound, message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );
});
