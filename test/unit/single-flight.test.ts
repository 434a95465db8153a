import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleFlight } from '../../src/single-flight.js';
import { turn } from '../support/turns.js';

/** A task whose runs the test settles by hand: each run is numbered. */
function manual() {
  const runs: Array<{ resolve: (n: number) => void; reject: (e: Error) => void }> = [];
  const task = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      runs.push({ resolve, reject });
    });
  return { runs, task };
}

test('run() joins the run in flight; a new run starts once it settled', async () => {
  const { runs, task } = manual();
  const flight = new SingleFlight(task);
  const a = flight.run();
  const b = flight.run();
  assert.equal(a, b);
  assert.equal(runs.length, 1);
  assert.equal(flight.running, a);
  runs[0]?.resolve(1);
  assert.equal(await b, 1);
  await turn();
  assert.equal(flight.running, null);
  const c = flight.run();
  assert.equal(runs.length, 2);
  runs[1]?.resolve(2);
  assert.equal(await c, 2);
});

test('fresh() starts now when nothing runs, else shares the one run queued behind the run in flight', async () => {
  const { runs, task } = manual();
  const flight = new SingleFlight(task);
  const first = flight.fresh();
  const second = flight.fresh();
  const third = flight.fresh();
  assert.notEqual(first, second, 'a fresh answer never comes from a run started before the call');
  assert.equal(second, third, 'callers waiting behind the same run share the next one');
  assert.equal(runs.length, 1, 'the queued run waits for the one in flight');
  runs[0]?.resolve(1);
  assert.equal(await first, 1);
  await turn();
  assert.equal(runs.length, 2);
  runs[1]?.resolve(2);
  assert.deepEqual(await Promise.all([second, third]), [2, 2]);
});

test('a failed run fails its callers and the queued run starts all the same; a task may be given per call', async () => {
  const { runs, task } = manual();
  const flight = new SingleFlight<number>();
  assert.throws(() => flight.run(), /no task to run/);
  const failing = flight.run(task);
  const after = flight.fresh(task);
  runs[0]?.reject(new Error('boom'));
  await assert.rejects(failing, /boom/);
  await turn();
  assert.equal(runs.length, 2);
  runs[1]?.resolve(7);
  assert.equal(await after, 7);
});
