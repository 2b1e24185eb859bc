import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

// Bundles the operators' dashboard (dashboard/) with esbuild into DASHBOARD_DIR (default
// dist/dashboard), which the node serves at /dashboard: the page, its script (uPlot included) and
// its style (uPlot's included), and the federation runbooks as pages the findings link to. No CDN:
// everything the page loads comes from the node. Run by `npm run build`, `npm start` and `npm test`.

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'dashboard');
const RUNBOOKS = ['federation-incidents.md', 'federation-incidents.en.md'];

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The runbook as a page: its markdown as written (operators read it as text), with the section
 * anchors it declares (`<a id="negative-stock"></a>`) made real, so a finding's link opens its section.
 */
export function runbookPage(markdown: string, title: string): string {
  const body = escapeHtml(markdown).replace(
    /&lt;a id=&quot;([a-z0-9-]+)&quot;&gt;&lt;\/a&gt;\n?/g,
    (_m, id: string) => `<span id="${id}"></span>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8" />',
    `<title>${escapeHtml(title)}</title>`,
    '<link rel="stylesheet" href="/dashboard/app.css" /></head>',
    `<body class="runbook"><pre>${body}</pre></body></html>`,
    '',
  ].join('\n');
}

export async function buildDashboard(
  outDir = path.resolve(ROOT, process.env.DASHBOARD_DIR ?? 'dist/dashboard'),
): Promise<string> {
  mkdirSync(path.join(outDir, 'runbooks'), { recursive: true });
  await build({
    entryPoints: { app: path.join(SRC, 'main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  // The stylesheet imports uPlot's; esbuild inlines it into one file.
  await build({
    entryPoints: { app: path.join(SRC, 'styles.css') },
    outdir: outDir,
    bundle: true,
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(path.join(SRC, 'index.html'), path.join(outDir, 'index.html'));
  for (const f of RUNBOOKS) {
    const md = readFileSync(path.join(ROOT, 'docs', 'runbooks', f), 'utf8');
    const title = md.split('\n', 1)[0]!.replace(/^#\s*/, '');
    writeFileSync(path.join(outDir, 'runbooks', f.replace(/\.md$/, '.html')), runbookPage(md, title));
  }
  return outDir;
}

if (require.main === module) {
  buildDashboard()
    .then((dir) => console.log(`build-dashboard: dashboard bundle in ${path.relative(ROOT, dir) || dir}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
