import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_WEIGHTS, faultLabel, isFailover, planFault } from '../../chaos/fault-plan.js';
import { checkResult, lateAcks, missingIds, writesOffPrimary, type WriteAck } from '../../chaos/invariants.js';
import { Random } from '../../chaos/random.js';
import { TenureLog } from '../../chaos/tenure.js';

/** 127.0.0.2 primary on timeline 1 until 1000, then 127.0.0.3 on timeline 2. */
function tenures(): TenureLog {
  const log = new TenureLog();
  log.begin('127.0.0.2', 1, 0);
  log.begin('127.0.0.3', 2, 1000);
  return log;
}

const ack = (server: string, timeline: number, sentAt: number, at: number, ids = [1]): WriteAck => ({ ids, sentAt, at, server, timeline });

test('tenures: a node is the primary until the next promotion begins', () => {
  assert.deepEqual(tenures().list(), [
    { host: '127.0.0.2', timeline: 1, from: 0, to: 1000 },
    { host: '127.0.0.3', timeline: 2, from: 1000, to: null },
  ]);
});

test('off-primary writes: sent after the node was replaced, on a stale timeline, or by a node never primary', () => {
  const log = tenures().list();
  const ok = [ack('127.0.0.2', 1, 10, 20), ack('127.0.0.2', 1, 990, 1010), ack('127.0.0.3', 2, 1001, 1002)];
  assert.deepEqual(writesOffPrimary(ok, log), []);
  const stale = ack('127.0.0.2', 1, 1100, 1105);
  const wrongTimeline = ack('127.0.0.3', 1, 1100, 1105);
  const neverPrimary = ack('127.0.0.4', 2, 1100, 1105);
  const beforePromotion = ack('127.0.0.3', 2, 900, 950);
  assert.deepEqual(writesOffPrimary([...ok, stale, wrongTimeline, neverPrimary, beforePromotion], log), [
    stale,
    wrongTimeline,
    neverPrimary,
    beforePromotion,
  ]);
  // With a grace (under an orchestrator): only the old primary's writes sent within it after its tenure are let off.
  const withinGrace = ack('127.0.0.2', 1, 1150, 1160);
  const afterGrace = ack('127.0.0.2', 1, 1250, 1260);
  assert.deepEqual(writesOffPrimary([withinGrace, afterGrace, wrongTimeline, neverPrimary], log, { graceMillis: 200 }), [
    afterGrace,
    wrongTimeline,
    neverPrimary,
  ]);
  // A tenure taken from who held Patroni's lock has no timeline: the holder's writes count on whichever it was on.
  const locks = new TenureLog();
  locks.begin('127.0.0.2', null, 0);
  locks.begin('127.0.0.3', null, 1000);
  const restarted = ack('127.0.0.3', 3, 1100, 1105);
  assert.deepEqual(writesOffPrimary([restarted, ack('127.0.0.2', 1, 1100, 1105)], locks.list()), [ack('127.0.0.2', 1, 1100, 1105)]);
  assert.deepEqual(writesOffPrimary([restarted], log), [restarted]);
});

test('late acknowledgements: sent to the primary, acknowledged after the next promotion began', () => {
  const log = tenures().list();
  const late = ack('127.0.0.2', 1, 990, 1010);
  assert.deepEqual(lateAcks([ack('127.0.0.2', 1, 10, 20), late, ack('127.0.0.3', 2, 1001, 5000), ack('127.0.0.2', 1, 1100, 1105)], log), [
    late,
  ]);
  // Sent before the leader crashed, acknowledged after Patroni promoted the same node again (timeline 3): not late.
  const sameLeaderLater = new TenureLog();
  sameLeaderLater.begin('127.0.0.2', 1, 0);
  sameLeaderLater.begin('127.0.0.2', 3, 1000);
  assert.deepEqual(lateAcks([ack('127.0.0.2', 3, 900, 1200)], sameLeaderLater.list()), []);
  // Lock tenures: the lock went to .3 at 1000 and back to .2 at 2000. An ack by .2 sent before 1000 is late
  // when made between 1000 and 2000; made after .2 took the lock back, it is in its new tenure.
  const lockBack = new TenureLog();
  lockBack.begin('127.0.0.2', null, 0);
  lockBack.begin('127.0.0.3', null, 1000);
  lockBack.begin('127.0.0.2', null, 2000);
  const lateOnLock = ack('127.0.0.2', 1, 900, 1500);
  assert.deepEqual(lateAcks([lateOnLock, ack('127.0.0.2', 1, 900, 2500)], lockBack.list()), [lateOnLock]);
});

test('missing ids: every row of a transaction counts', () => {
  assert.deepEqual(missingIds([ack('a', 1, 0, 1, [1]), ack('a', 1, 0, 1, [2, 3])], new Set([1, 2])), [3]);
  const result = checkResult(
    'x',
    9,
    Array.from({ length: 8 }, (_, i) => `v${i}`),
  );
  assert.equal(result.violations, 8);
  assert.deepEqual(result.examples, ['v0', 'v1', 'v2', 'v3', 'v4', '... and 3 more']);
});

test('fault schedule: the same seed gives the same faults; every kind comes up', () => {
  const draw = (seed: number) => {
    const r = new Random(seed);
    return Array.from({ length: 500 }, () => planFault(r, 2));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  const labels = new Set(draw(42).map((p) => `${p.target} ${p.kind}`));
  assert.deepEqual([...labels].sort(), FAULT_WEIGHTS.map(([[target, kind]]) => `${target} ${kind}`).sort());
  for (const p of draw(7)) {
    assert.ok(p.holdMillis >= 200 && p.holdMillis <= 1500 && p.standbyIndex >= 0 && p.standbyIndex <= 1);
  }
  assert.equal(isFailover({ target: 'primary', kind: 'freeze' }), true);
  assert.equal(isFailover({ target: 'primary', kind: 'restart' }), false);
  assert.equal(isFailover({ target: 'standby', kind: 'stop' }), false);
  assert.equal(faultLabel({ target: 'primary', kind: 'stop', stopMode: 'immediate' }), 'primary stop (immediate)');
});
