import { errorBodySchema } from '../domain/wire/peer-protocol';

// AppError and every error code live in domain/errors.ts (the catalogue); this module only says
// how routes document their error answers.

export const errorResponseSchema = errorBodySchema;

export const errorResponses = {
  400: errorResponseSchema,
  401: errorResponseSchema,
  403: errorResponseSchema,
  404: errorResponseSchema,
  413: errorResponseSchema,
  429: errorResponseSchema,
  503: errorResponseSchema,
} as const;
