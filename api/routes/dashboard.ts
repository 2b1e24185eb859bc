import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError, AppError } from '../../domain/errors';
import { bundleSender } from '../static-bundle';

// The operators' dashboard (dashboard/, bundled by scripts/build-dashboard.ts into DASHBOARD_DIR).
// Public, like /pos: static files with no data in them; every API call the page makes carries the
// admin secret the operator typed, as a bearer header.

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};
const RUNBOOKS = new Set(['federation-incidents.html', 'federation-incidents.en.html']);

// Its own origin only (no inline code, no CDN), and no form may be submitted anywhere: the sign-in
// form is handled by the script, so a secret can never travel in a form's URL.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export const dashboardRoutes: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  const send = bundleSender({
    dir,
    csp: CSP,
    notBuilt: 'the dashboard bundle is not built here: run `npm run build:dashboard`',
    headers: { 'referrer-policy': 'no-referrer' },
  });

  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) =>
    send(reply, 'index.html', 'text/html; charset=utf-8'),
  );
  app.get(
    '/dashboard/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(100) }) } },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      const type = FILES[file];
      if (!type) throw new AppError(404, ApiError.notFound, `the dashboard has no file ${file}`);
      return send(reply, file, type);
    },
  );
  app.get(
    '/dashboard/runbooks/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(100) }) } },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      if (!RUNBOOKS.has(file)) throw new AppError(404, ApiError.notFound, `no runbook ${file}`);
      return send(reply, path.join('runbooks', file), 'text/html; charset=utf-8');
    },
  );
};
