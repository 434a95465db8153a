import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetSessionAttrs } from '../../src/conninfo/resolve.js';
import { failureAction, type AttemptError } from '../../src/connect/failure.js';
import { rejectionReason, type ServerState } from '../../src/connect/server-state.js';

const PRIMARY: ServerState = { inHotStandby: false, readOnly: false };
const READ_ONLY_PRIMARY: ServerState = { inHotStandby: false, readOnly: true };
const STANDBY: ServerState = { inHotStandby: true, readOnly: false };
const STANDBY_RO: ServerState = { inHotStandby: true, readOnly: true };

// Reference §2.1: what each value accepts, and the text libpq appends when it does not.
const TABLE: ReadonlyArray<[TargetSessionAttrs, ServerState, string | null]> = [
  ['any', PRIMARY, null],
  ['any', READ_ONLY_PRIMARY, null],
  ['any', STANDBY, null],
  ['any', STANDBY_RO, null],
  ['read-write', PRIMARY, null],
  ['read-write', READ_ONLY_PRIMARY, 'session is read-only'],
  ['read-write', STANDBY, 'session is read-only'],
  ['read-write', STANDBY_RO, 'session is read-only'],
  ['read-only', PRIMARY, 'session is not read-only'],
  ['read-only', READ_ONLY_PRIMARY, null],
  ['read-only', STANDBY, null],
  ['read-only', STANDBY_RO, null],
  ['primary', PRIMARY, null],
  ['primary', READ_ONLY_PRIMARY, null],
  ['primary', STANDBY, 'server is in hot standby mode'],
  ['primary', STANDBY_RO, 'server is in hot standby mode'],
  ['standby', PRIMARY, 'server is not in hot standby mode'],
  ['standby', READ_ONLY_PRIMARY, 'server is not in hot standby mode'],
  ['standby', STANDBY, null],
  ['standby', STANDBY_RO, null],
  ['prefer-standby', PRIMARY, 'server is not in hot standby mode'],
  ['prefer-standby', READ_ONLY_PRIMARY, 'server is not in hot standby mode'],
  ['prefer-standby', STANDBY, null],
  ['prefer-standby', STANDBY_RO, null],
];

for (const [attrs, state, expected] of TABLE) {
  test(`${attrs} on ${JSON.stringify(state)} → ${expected ?? 'accepted'}`, () => {
    assert.equal(rejectionReason(attrs, state, 1), expected);
  });
}

test('prefer-standby takes any server on its second pass', () => {
  for (const state of [PRIMARY, READ_ONLY_PRIMARY, STANDBY, STANDBY_RO]) assert.equal(rejectionReason('prefer-standby', state, 2), null);
});

const ACTIONS: ReadonlyArray<[AttemptError, string]> = [
  [{ kind: 'socket', errno: 'ECONNREFUSED' }, 'next-address'],
  [{ kind: 'timeout' }, 'next-address'],
  [{ kind: 'server', sqlstate: '57P03', afterAuth: false }, 'next-host'],
  [{ kind: 'server', sqlstate: '28P01', afterAuth: false }, 'abort'],
  [{ kind: 'server', sqlstate: '28000', afterAuth: false }, 'abort'],
  [{ kind: 'server', sqlstate: '53300', afterAuth: false }, 'abort'],
  [{ kind: 'server', sqlstate: '3D000', afterAuth: true }, 'abort'],
  [{ kind: 'eof' }, 'abort'],
  [{ kind: 'no-password' }, 'abort'],
  [{ kind: 'rejected' }, 'next-host'],
  [{ kind: 'check-failed' }, 'next-host'],
];

for (const [error, action] of ACTIONS) {
  test(`after ${JSON.stringify(error)} libpq goes to ${action}`, () => {
    assert.equal(failureAction(error), action);
  });
}
