import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

// Bundles the POS page (pwa/pos) with esbuild into POS_DIR (default dist/pos), which the node
// serves at /pos: the page, its script, style, manifest and service worker. No CDN: everything the
// page loads comes from the node. Run by `npm run build`, `npm start` and `npm test`.

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'pwa', 'pos');
const STATIC = ['index.html', 'styles.css', 'manifest.webmanifest'];

export async function buildPos(
  outDir = path.resolve(ROOT, process.env.POS_DIR ?? 'dist/pos'),
): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(SRC, 'main.ts')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const f of STATIC) copyFileSync(path.join(SRC, f), path.join(outDir, f));
  const hash = createHash('sha256');
  for (const f of ['app.js', ...STATIC]) hash.update(readFileSync(path.join(outDir, f)));
  const version = hash.digest('hex').slice(0, 16);
  await build({
    entryPoints: [path.join(SRC, 'sw.ts')],
    outfile: path.join(outDir, 'sw.js'),
    bundle: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    define: { POS_VERSION: JSON.stringify(version) },
    logLevel: 'warning',
  });
  writeFileSync(path.join(outDir, 'version.txt'), `${version}\n`);
  return outDir;
}

if (require.main === module) {
  buildPos()
    .then((dir) => console.log(`build-pos: POS bundle in ${path.relative(ROOT, dir) || dir}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
