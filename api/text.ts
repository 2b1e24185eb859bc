import type { z } from 'zod';
import { whyUnstorable } from '../domain/events/decode';

/**
 * A request string that reaches PostgreSQL (stored or compared in a query): text there cannot hold a
 * NUL, and an unpaired surrogate would be stored as U+FFFD, not as sent. Either is a 400 naming the
 * field, instead of a database error and a 500.
 */
export function storable<T extends z.ZodString>(schema: T): T {
  return schema.superRefine((s, ctx) => {
    const why = whyUnstorable(s);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });
}
