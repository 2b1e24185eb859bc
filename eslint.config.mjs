import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, inside out (docs/architecture.md, "Layers"): a module may import its own layer and
 * those before it, never one after it, types included. Workflows name activities by type only; the
 * workflow rule below keeps their runtime imports out of the sandbox.
 */
const LAYERS = ['domain', 'infra', 'activities', 'workflows', 'actors', 'api', 'app', 'bin'];
const below = (layer) => LAYERS.slice(LAYERS.indexOf(layer) + 1).flatMap((l) => [`**/${l}`, `**/${l}/**`]);

function layerRule(files, group, message, more = []) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group, message }, ...more] }],
    },
  };
}

/**
 * No SQL above infra/: activities, actors, routes and the composition root call repository
 * functions, and app/ opens the pool through infra/db (`createDb`), so none of them needs the
 * database packages themselves.
 */
const NO_SQL_LAYERS = ['activities', 'actors', 'api', 'app'];
const noSql = {
  group: ['pg', 'pg/**', 'pg-*', 'kysely', 'kysely/**'],
  message: 'no SQL in upper layers: call a function of infra/repositories (docs/architecture.md)',
};

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'dist/', 'coverage/', '*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            'fs',
            'path',
            'crypto',
            'http',
            'https',
            'net',
            'pg',
            'kysely',
            '../activities/*',
          ],
        },
      ],
    },
  },
  ...LAYERS.slice(0, -1).map((layer) =>
    layerRule(
      [`${layer}/**/*.ts`],
      // The domain is pure: no database, Temporal, HTTP or logging packages either.
      layer === 'domain'
        ? [...below(layer), 'pg', 'kysely', '@temporalio/*', 'fastify', 'fastify-*', 'pino']
        : below(layer),
      `${layer}/ may not depend on this: layers point inward (docs/architecture.md)`,
      NO_SQL_LAYERS.includes(layer) ? [noSql] : [],
    ),
  ),
  // The PWA runs in the browser: of the node it may use the domain's types only, and no Node built-ins.
  layerRule(
    ['pwa/**/*.ts'],
    [
      ...LAYERS.slice(1).flatMap((l) => [`**/${l}`, `**/${l}/**`]),
      'node:*',
      'pg',
      'kysely',
      '@temporalio/*',
      'fastify',
      'fastify-*',
      'pino',
    ],
    'pwa/ runs in the browser: it may import domain/ types, nothing else of the node',
  ),
  // The dashboard runs in the browser too: of the node, the domain only (report types, thresholds).
  layerRule(
    ['dashboard/**/*.ts'],
    [
      ...LAYERS.slice(1).flatMap((l) => [`**/${l}`, `**/${l}/**`]),
      '**/pwa',
      '**/pwa/**',
      'node:*',
      'pg',
      'kysely',
      '@temporalio/*',
      'fastify',
      'fastify-*',
      'pino',
    ],
    'dashboard/ runs in the browser: it may import domain/, nothing else of the node',
  ),
  // Migrations never import the app: they must keep working when the code around them changes.
  layerRule(
    ['migrations/**/*.ts'],
    LAYERS.flatMap((l) => [`**/${l}`, `**/${l}/**`]),
    'migrations stand alone',
  ),
  // Migrations take Kysely<any> on purpose: they must not depend on the app's current schema types.
  { files: ['migrations/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'bin/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
