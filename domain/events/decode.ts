import { issueDetails, Rejection, type IssueDetail, type RejectionCode } from '../errors';
import { syncEventSchema, type SyncEvent } from './schemas';

/** Limits on one event, from config; defaults fit a point of sale with room to spare. */
export interface EventLimits {
  /** Serialised size of one event (envelope and payload), in bytes. */
  maxBytes: number;
  /** Nesting of objects and arrays anywhere in the event. */
  maxDepth: number;
  /** Entries of its vector clock. */
  maxClockEntries: number;
  /** The window a device's created_at must fall in (a wider one than any real clock error). */
  minCreatedAt: Date;
  maxCreatedAt: Date;
}

export interface EventRejection {
  /** Position of the event in the request. */
  index: number;
  /** The event_id as sent, when it has a usable one. */
  event_id: string | null;
  code: RejectionCode;
  message: string;
  details?: IssueDetail[];
}

export type Decoded = { ok: true; event: SyncEvent } | { ok: false; rejection: EventRejection };

/**
 * Decodes one event of a push, never throwing: a value that is not a valid event comes back as a
 * rejection naming the field, so the valid events of the same request can still be accepted. Checks
 * run cheapest and most dangerous first: shape, nesting and strings PostgreSQL cannot store (walked
 * iteratively, so no input can exhaust the stack), size, then the event's schema.
 */
export function decodeEvent(raw: unknown, index: number, limits: EventLimits): Decoded {
  const eventId = idOf(raw);
  const reject = (code: RejectionCode, message: string, details?: EventRejection['details']): Decoded => ({
    ok: false,
    rejection: { index, event_id: eventId, code, message, ...(details ? { details } : {}) },
  });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return reject(Rejection.invalidEvent, `events.${index}: must be an object`);
  }
  const walk = walkValue(raw, limits.maxDepth);
  if (walk.tooDeep !== null) {
    return reject(
      Rejection.eventTooDeep,
      `events.${index}.${walk.tooDeep}: nested deeper than ${limits.maxDepth} levels`,
    );
  }
  if (walk.badString !== null) {
    return reject(
      Rejection.invalidString,
      `events.${index}.${walk.badString.path}: ${walk.badString.why} (not storable text)`,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  if (bytes > limits.maxBytes) {
    return reject(
      Rejection.eventTooLarge,
      `events.${index}: ${bytes} bytes; one event may have at most ${limits.maxBytes}`,
    );
  }
  const clock = (raw as { vector_clock?: unknown }).vector_clock;
  if (clock && typeof clock === 'object' && Object.keys(clock).length > limits.maxClockEntries) {
    return reject(
      Rejection.tooManyClockEntries,
      `events.${index}.vector_clock: ${Object.keys(clock).length} entries; at most ${limits.maxClockEntries}`,
    );
  }
  const parsed = syncEventSchema.safeParse(raw);
  if (!parsed.success) {
    const details = issueDetails(parsed.error.issues.slice(0, 20), ['events', index]);
    return reject(Rejection.invalidEvent, `${details[0]!.path}: ${details[0]!.message}`, details);
  }
  const createdAt = Date.parse(parsed.data.created_at);
  if (createdAt < limits.minCreatedAt.getTime() || createdAt > limits.maxCreatedAt.getTime()) {
    return reject(
      Rejection.dateOutOfRange,
      `events.${index}.created_at: ${parsed.data.created_at} is outside ` +
        `${limits.minCreatedAt.toISOString()} .. ${limits.maxCreatedAt.toISOString()}`,
    );
  }
  return { ok: true, event: parsed.data };
}

function idOf(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' && id.length <= 100 && whyUnstorable(id) === null ? id : null;
}

interface Walk {
  tooDeep: string | null;
  badString: { path: string; why: string } | null;
}

/** Depth and storable strings (keys too) of a JSON value, without recursion. */
function walkValue(root: object, maxDepth: number): Walk {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 1, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value === 'string') {
      const why = whyUnstorable(value);
      if (why) return { tooDeep: null, badString: { path: path || '(root)', why } };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) return { tooDeep: path || '(root)', badString: null };
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value);
    for (const [key, child] of entries) {
      const childPath = path ? `${path}.${key}` : key;
      const why = whyUnstorable(key);
      if (why) return { tooDeep: null, badString: { path: childPath, why: `key ${why}` } };
      stack.push({ value: child, depth: depth + 1, path: childPath });
    }
  }
  return { tooDeep: null, badString: null };
}

/** Why PostgreSQL could not store this string (NUL, unpaired UTF-16 surrogate), or null. */
export function whyUnstorable(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'contains a NUL character';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return 'contains an unpaired surrogate';
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'contains an unpaired surrogate';
  }
  return null;
}
