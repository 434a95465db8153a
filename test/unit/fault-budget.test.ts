import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wantsAnotherFault } from '../../chaos/fault-loop.js';

test('wantsAnotherFault: faults go on for the whole duration, then until the minimum count is reached', () => {
  const budget = { durationMillis: 45_000, minFaults: 3 };
  assert.equal(wantsAnotherFault(budget, 0, 5, 44_999), true, 'inside the duration, whatever the count');
  assert.equal(wantsAnotherFault(budget, 0, 2, 60_000), true, 'past the duration, short of the minimum');
  assert.equal(wantsAnotherFault(budget, 0, 3, 45_000), false, 'past the duration with the minimum');
  assert.equal(wantsAnotherFault({ durationMillis: 1_000 }, 0, 0, 1_000), false, 'no minimum: the duration alone');
});
