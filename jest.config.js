/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  // A few dependencies ship ESM only (light-my-request's cookie parser); compile just those.
  transformIgnorePatterns: ['/node_modules/(?!(cookie)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 120_000,
  // Two cores: PostgreSQL and the Temporal server need one of them.
  maxWorkers: 2,
};
