import { ApiError, AppError } from '../../domain/errors';

// Keyset cursors: the key of the last row of a page, tagged with the query it belongs to, as
// base64url JSON. Opaque to clients; a cursor that does not decode to a key of this query is a 400.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(kind: string, key: string[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString('base64url');
}

/** The key a cursor carries (`arity` uuids), or a 400 naming the parameter. */
export function decodeCursor(kind: string, arity: number, cursor: string | undefined): string[] | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== arity + 1 ||
    parsed[0] !== kind ||
    !parsed.slice(1).every((k) => typeof k === 'string' && UUID.test(k))
  ) {
    throw new AppError(
      400,
      ApiError.badRequest,
      'cursor: not a cursor of this query (pass next_cursor as given)',
    );
  }
  return parsed.slice(1) as string[];
}

/** `limit + 1` rows were read: the page, and the cursor of its last row when more follow. */
export function pageOf<R>(
  rows: R[],
  limit: number,
  kind: string,
  keyOf: (row: R) => string[],
): { rows: R[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  return {
    rows: page,
    next_cursor:
      rows.length > limit && page.length > 0 ? encodeCursor(kind, keyOf(page[page.length - 1]!)) : null,
  };
}
