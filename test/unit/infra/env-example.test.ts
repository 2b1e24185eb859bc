import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../../../infra/config';

// .env.example documents every variable the node reads, and its values are a valid configuration.

const file = readFileSync(path.resolve(__dirname, '../../../.env.example'), 'utf8');
const entries = Object.fromEntries(
  file
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

test('every config variable is in .env.example', () => {
  const keys = Object.keys(configSchema.shape);
  expect(keys.length).toBeGreaterThan(60);
  expect(keys.filter((k) => !(k in entries))).toEqual([]);
  expect(Object.keys(entries).filter((k) => !keys.includes(k))).toEqual([]);
});

test('.env.example parses as a configuration', () => {
  const parsed = configSchema.safeParse(
    Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== '')),
  );
  expect(parsed.success ? 'ok' : parsed.error.issues).toBe('ok');
});
