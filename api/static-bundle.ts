import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import { ApiError, AppError } from '../domain/errors';

// One built front end (the POS page, the dashboard) served as public static files: a fixed set of
// files from its bundle folder, never cached without asking, under the page's own CSP.

export interface BundleOptions {
  dir: string;
  csp: string;
  /** The 404 when the bundle was not built (names the build script to run). */
  notBuilt: string;
  headers?: Record<string, string>;
}

/** Sends `file` (relative to the bundle folder) with its content type, or a 404 if it was not built. */
export function bundleSender(o: BundleOptions) {
  const root = path.resolve(o.dir);
  return async (reply: FastifyReply, file: string, type: string) => {
    let body: Buffer;
    try {
      body = await readFile(path.join(root, file));
    } catch {
      throw new AppError(404, ApiError.notFound, o.notBuilt);
    }
    reply
      .header('content-type', type)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', o.csp);
    for (const [k, v] of Object.entries(o.headers ?? {})) reply.header(k, v);
    return reply.send(body);
  };
}
