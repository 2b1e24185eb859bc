import { databaseFailure } from '../../../../infra/db/errors';

// The shapes pg and Node give these failures (the integration tests meet the real ones).
const sqlState = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });
const socket = (code: string, syscall: string) =>
  Object.assign(new Error(`${syscall} ${code}`), { code, syscall });

test('an unreachable or restarting PostgreSQL is "unavailable"', () => {
  for (const err of [
    socket('ECONNREFUSED', 'connect'),
    socket('ENOENT', 'connect'),
    socket('ECONNRESET', 'read'),
    sqlState('57P01'),
    sqlState('57P03'),
    sqlState('08006'),
    sqlState('53300'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    Object.assign(new AggregateError([socket('ECONNREFUSED', 'connect')], ''), {}),
    new Error('wrapped', { cause: socket('ETIMEDOUT', 'connect') }),
  ]) {
    expect({ err: String(err), failure: databaseFailure(err) }).toEqual({
      err: String(err),
      failure: 'unavailable',
    });
  }
});

test('lock and statement timeouts are "busy"', () => {
  for (const code of ['55P03', '57014', '40P01', '40001', '25P03']) {
    expect(databaseFailure(sqlState(code))).toBe('busy');
  }
});

test('anything else is not a database outage (it stays a 500)', () => {
  for (const err of [
    new Error('boom'),
    sqlState('23505'),
    sqlState('22P02'),
    socket('ENOENT', 'open'),
    null,
    'text',
    sqlState('0800'),
  ]) {
    expect(databaseFailure(err)).toBeUndefined();
  }
});
