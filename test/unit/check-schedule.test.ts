import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeStatus } from '../../src/roles/node-status.js';
import { CheckSchedule, type Checkable } from '../../src/split/watch/check-schedule.js';

const DELAYS = { recheckMillis: 2000, failoverRecheckMillis: 100 };

/** A monitor whose checks are counted; `hang` makes each check never end (a frozen host). */
function fakeMonitor(hang = false): Checkable & { checks: number } {
  const monitor = {
    checks: 0,
    recheck(): Promise<NodeStatus> {
      monitor.checks++;
      return hang ? new Promise<NodeStatus>(() => undefined) : Promise.resolve({} as NodeStatus);
    },
  };
  return monitor;
}

/** Lets the promise callbacks queued by the checks run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

test('CheckSchedule: a frozen host delays no other host; each comes back on its own clock', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const monitors = [fakeMonitor(true), fakeMonitor()];
  let writerKnown: boolean | null = true;
  const schedule = new CheckSchedule(
    (i) => monitors[i],
    () => writerKnown,
    DELAYS,
  );
  void schedule.checkNow(0);
  void schedule.checkNow(1);
  await settle();
  assert.deepEqual(
    monitors.map((m) => m.checks),
    [1, 1],
  );
  for (let round = 2; round <= 4; round++) {
    t.mock.timers.tick(DELAYS.recheckMillis);
    await settle();
    assert.deepEqual(
      monitors.map((m) => m.checks),
      [1, round],
      'the healthy host is checked every recheckMillis, the frozen one once',
    );
  }
  // No writer known: the waiting check comes at the failover pace from now on.
  writerKnown = false;
  schedule.retime();
  t.mock.timers.tick(DELAYS.failoverRecheckMillis);
  await settle();
  assert.equal(monitors[1]?.checks, 5);
  t.mock.timers.tick(DELAYS.failoverRecheckMillis);
  await settle();
  assert.equal(monitors[1]?.checks, 6);
  // Asleep or closed (null): a check ending sets no next one.
  writerKnown = null;
  t.mock.timers.tick(DELAYS.failoverRecheckMillis);
  await settle();
  t.mock.timers.tick(DELAYS.recheckMillis * 10);
  await settle();
  assert.equal(monitors[1]?.checks, 7);
});

test('CheckSchedule: clear and clearAll cancel the next checks; a host gone (no monitor) is not checked', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const monitors: Array<(Checkable & { checks: number }) | undefined> = [fakeMonitor(), fakeMonitor(), fakeMonitor()];
  const schedule = new CheckSchedule(
    (i) => monitors[i],
    () => true,
    DELAYS,
  );
  await Promise.all([0, 1, 2].map((i) => schedule.checkNow(i)));
  schedule.clear(0);
  monitors[2] = undefined;
  t.mock.timers.tick(DELAYS.recheckMillis);
  await settle();
  assert.deepEqual([monitors[0]?.checks, monitors[1]?.checks], [1, 2]);
  schedule.clearAll();
  t.mock.timers.tick(DELAYS.recheckMillis * 5);
  await settle();
  assert.deepEqual([monitors[0]?.checks, monitors[1]?.checks], [1, 2]);
  // A check asked for while its host is gone does nothing and ends at once.
  await schedule.checkNow(2);
});

/** A monitor whose checks end when the test says (`end()`), queued as HostMonitor queues them: one running, one more after it. */
function manualMonitor(): Checkable & { checks: number; end(outcome?: 'fail'): void } {
  let running: { promise: Promise<NodeStatus>; resolve: () => void; reject: (e: Error) => void } | null = null;
  let queued: Promise<NodeStatus> | null = null;
  const start = (): Promise<NodeStatus> => {
    monitor.checks++;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<NodeStatus>((res, rej) => {
      resolve = () => res({} as NodeStatus);
      reject = rej;
    });
    running = { promise, resolve, reject };
    return promise.finally(() => (running = null));
  };
  const monitor = {
    checks: 0,
    recheck(): Promise<NodeStatus> {
      if (running === null) return start();
      queued ??= running.promise
        .catch(() => undefined)
        .then(() => {
          queued = null;
          return start();
        });
      return queued;
    },
    end(outcome?: 'fail'): void {
      if (outcome === 'fail') running?.reject(new Error('a listener threw'));
      else running?.resolve();
    },
  };
  return monitor;
}

test('CheckSchedule: a check that ends while another is queued behind it sets no timer, so the queued one is not followed at once by a third', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const monitor = manualMonitor();
  const schedule = new CheckSchedule(
    () => monitor,
    () => false,
    DELAYS,
  );
  const first = schedule.checkNow(0);
  const second = schedule.checkNow(0);
  monitor.end();
  await first;
  await settle();
  assert.equal(monitor.checks, 2, 'the queued check started when the first ended');
  // The second check runs long; when it ends, the next comes a full delay later, not right behind it.
  t.mock.timers.tick(DELAYS.failoverRecheckMillis * 3);
  monitor.end();
  await second;
  await settle();
  assert.equal(monitor.checks, 2, 'a check started right behind the one that ended');
  t.mock.timers.tick(DELAYS.failoverRecheckMillis);
  await settle();
  assert.equal(monitor.checks, 3);
});

test('CheckSchedule: a check that fails (a listener threw) still sets the next one', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const monitor = manualMonitor();
  const schedule = new CheckSchedule(
    () => monitor,
    () => true,
    DELAYS,
  );
  const check = schedule.checkNow(0);
  monitor.end('fail');
  await assert.rejects(check, /a listener threw/);
  t.mock.timers.tick(DELAYS.recheckMillis);
  await settle();
  assert.equal(monitor.checks, 2);
});
