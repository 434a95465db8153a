import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answersStandForCheck, type CheckEvidence } from '../../src/split/watch/check-evidence.js';

/** A routine check of a host reached before, no session of its own, no suspicion, answered 500 ms ago with a 2 s timeout. */
const STANDS: CheckEvidence = {
  routine: true,
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
    ['a check asked for a reason (a role reported, a failover, a stalled writer)', { routine: false }, false],
    ['a failover signal since the last status', { suspected: true }, false],
    ['the monitor has a session of its own: the check runs there', { ownSession: true }, false],
    ['the host was lost: it must be reached again', { reached: false }, false],
  ];
  for (const [what, change, stands] of rows) assert.equal(answersStandForCheck({ ...STANDS, ...change }), stands, what);
});
