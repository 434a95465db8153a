import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IdleKeeper } from '../../src/split/watch/idle-keeper.js';

/**
 * When a cluster goes to sleep: after `idleAfterMillis` without a statement,
 * or sooner, at the pools' own idle timeout, once they let every client go.
 * Mock timers and an injected clock: no wall-clock wait.
 */
function keeper(t: TestContext, idleAfterMillis: number, state: { busy: boolean; quiet: number | null }) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  const events: string[] = [];
  const idle = new IdleKeeper(
    idleAfterMillis,
    {
      busy: () => state.busy,
      sleep: () => events.push(`sleep at ${now}`),
      wake: () => events.push(`wake at ${now}`),
      emptyPoolsQuietMillis: () => state.quiet,
    },
    () => now,
  );
  const advance = (millis: number): void => {
    // One step at a time, so that a timer armed by another sees the clock it was armed at.
    for (let i = 0; i < millis; i += 10) {
      now += 10;
      t.mock.timers.tick(10);
    }
  };
  return { idle, events, advance, at: (): number => now };
}

test('without empty pools, the cluster sleeps idleAfterMillis after the last statement; a statement wakes it', (t) => {
  const state = { busy: false, quiet: null };
  const { idle, events, advance } = keeper(t, 30_000, state);
  idle.start();
  advance(20_000);
  idle.touch();
  advance(29_990);
  assert.deepEqual(events, []);
  advance(10);
  assert.deepEqual(events, ['sleep at 50000']);
  assert.equal(idle.asleep, true);
  idle.touch();
  assert.deepEqual(events, ['sleep at 50000', 'wake at 50000']);
});

test('once every pool let its last client go, the cluster sleeps at their quiet time, not at idleAfterMillis', (t) => {
  const state = { busy: false, quiet: null as number | null };
  const { idle, events, advance } = keeper(t, 600_000, state);
  idle.start();
  idle.touch();
  advance(10_000);
  // pg-pool closed the last idle client (idleTimeoutMillis 10 s): the pools are empty.
  state.quiet = 10_000;
  idle.poolsEmptied();
  advance(10);
  assert.deepEqual(events, ['sleep at 10010']);
});

test('the pools emptied sooner than their quiet time after the last statement (a client cut): the cluster sleeps when that time is up', (t) => {
  const state = { busy: false, quiet: null as number | null };
  const { idle, events, advance } = keeper(t, 600_000, state);
  idle.start();
  idle.touch();
  advance(1000);
  state.quiet = 5000;
  idle.poolsEmptied();
  advance(3990);
  assert.deepEqual(events, []);
  advance(10);
  assert.deepEqual(events, ['sleep at 5000']);
});

test('a pool still holding a client, or a statement under way, keeps the cluster awake', (t) => {
  const state = { busy: true, quiet: 2000 as number | null };
  const { idle, events, advance } = keeper(t, 600_000, state);
  idle.start();
  idle.poolsEmptied();
  advance(5000);
  assert.deepEqual(events, [], 'busy: looked at again, not put to sleep');
  state.busy = false;
  state.quiet = null;
  advance(5000);
  assert.deepEqual(events, [], 'a pool holds a client again: idleAfterMillis rules');
  state.quiet = 2000;
  idle.poolsEmptied();
  advance(10);
  assert.deepEqual(events, ['sleep at 10010']);
});

test('idleAfterMillis 0: never sleeps, whatever the pools do', (t) => {
  const state = { busy: false, quiet: 1000 };
  const { idle, events, advance } = keeper(t, 0, state);
  idle.start();
  idle.poolsEmptied();
  advance(10_000);
  assert.deepEqual(events, []);
});
