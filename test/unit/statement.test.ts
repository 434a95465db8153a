import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recoveryConflictMayRetry, writeMayRetry } from '../../src/split/pool/statement.js';

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
  const lost = new Error('Connection terminated unexpectedly');
  const rows: ReadonlyArray<[string, unknown, string, boolean, boolean]> = [
    ['25006: the node is a standby now', failure('25006'), 'INSERT INTO t VALUES (1)', false, true],
    ['57P01: terminated by a shutdown', failure('57P01'), 'INSERT INTO t VALUES (1)', false, true],
    ["40001: the application's own serialization failure", failure('40001'), 'INSERT INTO t VALUES (1)', false, false],
    ['several statements (the first may have committed)', failure('25006'), 'INSERT INTO t VALUES (1); COMMIT', false, false],
    ['the connection lost while it ran (it may have committed)', lost, 'INSERT INTO t VALUES (1)', false, false],
    ['never sent: its connection had failed before (whatever the text)', lost, 'INSERT INTO t VALUES (1)', true, true],
    ['never sent, but several statements', lost, 'INSERT INTO t VALUES (1); COMMIT', true, false],
  ];
  for (const [what, err, first, neverSent, expected] of rows) assert.equal(writeMayRetry(err, first, neverSent), expected, what);
});
