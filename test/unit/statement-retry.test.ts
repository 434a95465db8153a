import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recoveryConflictMayRetry, writeMayRetry } from '../../src/split/pool/statement-retry.js';

const failure = (code: string): Error => Object.assign(new Error('canceling statement due to conflict with recovery'), { code });
const cursor = { text: 'SELECT 1', submit: () => undefined };

test('a read a standby cancelled for a conflict with recovery runs again: 40001, on a standby, one statement of query(), nothing delivered (table)', () => {
  const rows: ReadonlyArray<[string, unknown, unknown, boolean, boolean]> = [
    ['40001 on a standby', failure('40001'), 'SELECT * FROM t', true, true],
    ['40001 on a standby, config object', failure('40001'), { text: 'SELECT * FROM t', values: [] }, true, true],
    ['40001 on the primary (a serialization failure of its own)', failure('40001'), 'SELECT * FROM t', false, false],
    ['several statements (the first may have done something)', failure('40001'), 'SELECT 1; SELECT * FROM t', true, false],
    ['a cursor or a stream (rows may have been delivered)', failure('40001'), cursor, true, false],
    ['another SQLSTATE', failure('57014'), 'SELECT * FROM t', true, false],
    ['not an error', '40001', 'SELECT * FROM t', true, false],
  ];
  for (const [what, err, first, onStandby, expected] of rows) assert.equal(recoveryConflictMayRetry(err, first, onStandby), expected, what);
});

test('a write runs again only when it certainly did not commit, and is one statement (table)', () => {
  assert.equal(writeMayRetry(failure('25006'), 'INSERT INTO t VALUES (1)'), true);
  assert.equal(writeMayRetry(failure('57P01'), 'INSERT INTO t VALUES (1)'), true);
  assert.equal(writeMayRetry(failure('40001'), 'INSERT INTO t VALUES (1)'), false, "a serialization failure is the application's to retry");
  assert.equal(writeMayRetry(failure('25006'), 'INSERT INTO t VALUES (1); COMMIT'), false);
});
