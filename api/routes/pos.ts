import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError, AppError } from '../../domain/errors';
import { bundleSender } from '../static-bundle';

// The POS page (pwa/pos, bundled by scripts/build-pos.ts into POS_DIR). Public, like /docs: these are
// static files with no data in them; every API call the page makes carries the device's token.

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
  'manifest.webmanifest': 'application/manifest+json',
  'sw.js': 'text/javascript; charset=utf-8',
};

// Stricter than the API's default: the page needs its own origin only (no inline code, no CDN).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export const posRoutes: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  // The service worker decides what is cached; the browser asks the node every time it is online.
  const send = bundleSender({
    dir,
    csp: CSP,
    notBuilt: 'the POS bundle is not built here: run `npm run build:pos`',
  });

  app.get('/pos', { schema: { hide: true } }, (_request, reply) =>
    send(reply, 'index.html', 'text/html; charset=utf-8'),
  );
  app.get(
    '/pos/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(100) }) } },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      const type = FILES[file];
      if (!type) throw new AppError(404, ApiError.notFound, `the POS has no file ${file}`);
      // The worker lives under /pos/ but controls /pos itself (the page).
      if (file === 'sw.js') reply.header('service-worker-allowed', '/pos');
      return send(reply, file, type);
    },
  );
};
