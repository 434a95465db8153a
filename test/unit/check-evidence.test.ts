import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  answersOutliveSession,
  answersStandForCheck,
  answersWillCarryCheck,
  strongerCheck,
  type CheckEvidence,
  type FailedSessionEvidence,
} from '../../src/split/watch/check-evidence.js';

/** A routine check of a host reached before, no session of its own, no suspicion, answered 500 ms ago with a 2 s timeout. */
const STANDS: CheckEvidence = {
  kind: 'routine',
  ownSession: false,
  reached: true,
  suspected: false,
  lastAnswer: 9500,
  now: 10_000,
  checkTimeoutMillis: 2000,
};

test('answers to busy pooled connections stand for a routine check only, of a host that answered within a check timeout', () => {
  const rows: Array<[string, Partial<CheckEvidence>, boolean]> = [
    ['answered lately, routine', {}, true],
    ['answered exactly a check timeout ago', { lastAnswer: 8000 }, true],
    ['answered longer ago than a check timeout (a host that froze since)', { lastAnswer: 7999 }, false],
    ['never answered', { lastAnswer: null }, false],
    ['a check asked for a reason (a role reported, a failover, no writer known)', { kind: 'asked' }, false],
    ['an urgent check (a stalled writer)', { kind: 'urgent' }, false],
    ['a failover signal since the last status', { suspected: true }, false],
    ['the monitor has a session of its own: the check runs there', { ownSession: true }, false],
    ['the host was lost: it must be reached again', { reached: false }, false],
  ];
  for (const [what, change, stands] of rows) assert.equal(answersStandForCheck({ ...STANDS, ...change }), stands, what);
});

test('a check asked for a reason waits for a connection a statement gives back only on a host that answered within a check timeout, with no failover signal', () => {
  const asked: CheckEvidence = { ...STANDS, kind: 'asked' };
  const rows: Array<[string, Partial<CheckEvidence>, boolean]> = [
    ['answered 500 ms ago', {}, true],
    ['answered exactly a check timeout ago', { lastAnswer: 8000 }, true],
    ['answered longer ago (maybe frozen since): a session, whose timeout tells', { lastAnswer: 7999 }, false],
    ['a routine check: the answers stand for it instead', { kind: 'routine' }, false],
    ['an urgent check (a stalled writer): the server at once', { kind: 'urgent' }, false],
    ['a failover signal: its connections may be failing', { suspected: true }, false],
    ['a session of its own', { ownSession: true }, false],
    ['never answered', { lastAnswer: null }, false],
  ];
  for (const [what, change, waits] of rows) assert.equal(answersWillCarryCheck({ ...asked, ...change }), waits, what);
});

test('a check asked twice before it starts answers the stronger reason', () => {
  assert.equal(strongerCheck('routine', 'asked'), 'asked');
  assert.equal(strongerCheck('urgent', 'asked'), 'urgent');
  assert.equal(strongerCheck('routine', 'routine'), 'routine');
  assert.equal(strongerCheck('asked', 'urgent'), 'urgent');
});

test('a session not opened within the timeout leaves the host up only when its pooled connections answered after the attempt began, with no failover signal since (table)', () => {
  const frozenPostmaster: FailedSessionEvidence = { timedOut: true, suspected: false, attemptStartedAt: 1000, lastAnswer: 1500 };
  const rows: Array<[string, Partial<FailedSessionEvidence>, boolean]> = [
    ['timed out, answered during the attempt (a frozen postmaster, backends serving)', {}, true],
    ['timed out, answered the moment it began', { lastAnswer: 1000 }, true],
    ['timed out, last answer before the attempt (a host frozen as a whole)', { lastAnswer: 999 }, false],
    ['timed out, never answered', { lastAnswer: null }, false],
    ['timed out, but a pooled connection saw a shutdown or lost its connection since (a server stopping)', { suspected: true }, false],
    ['refused, not timed out (no server, a login refused): its own failure', { timedOut: false }, false],
  ];
  for (const [what, change, up] of rows) assert.equal(answersOutliveSession({ ...frozenPostmaster, ...change }), up, what);
});
