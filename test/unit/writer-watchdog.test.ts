import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriterWatchdog } from '../../src/split/pool/writer-watchdog.js';

/** Mock timers and an injected clock: no wall-clock wait. */
test('the writer counts as stalling while its oldest statement has run for the limit, and stops once none has', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  let oldest: number | null = null;
  const said: boolean[] = [];
  const dog = new WriterWatchdog(
    () => oldest,
    (stalled) => said.push(stalled),
    () => now,
    200,
  );
  const tick = (ms: number): void => {
    now += ms;
    t.mock.timers.tick(ms);
  };
  // A statement that answers in time: nothing said.
  oldest = 0;
  dog.started();
  tick(50);
  oldest = null;
  tick(150);
  assert.deepEqual(said, []);
  // One that hangs: stalling once it has run 200 ms, and only once while it hangs.
  oldest = now;
  dog.started();
  dog.started();
  tick(199);
  assert.deepEqual(said, []);
  tick(1);
  assert.deepEqual(said, [true]);
  tick(600);
  assert.deepEqual(said, [true]);
  // It answers: no longer stalling, said at the next look; then nothing runs and no timer is left.
  oldest = null;
  tick(200);
  assert.deepEqual(said, [true, false]);
  tick(1000);
  assert.deepEqual(said, [true, false]);
  // A statement started 150 ms into another's run: looked at when the older reaches the limit.
  oldest = now;
  dog.started();
  tick(150);
  dog.started();
  tick(50);
  assert.deepEqual(said, [true, false, true]);
  dog.close();
  tick(1000);
  assert.deepEqual(said, [true, false, true], 'closed: no more looks');
});
