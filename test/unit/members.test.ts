import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mustStay } from '../../src/split/watch/members.js';

test('mustStay: a member discovery removed stays while it is the writer, unchecked, or a primary that is not stale (table)', () => {
  const up = (role: 'primary' | 'standby') => ({ checked: true, status: { reachable: true, role } });
  const rows: ReadonlyArray<
    [
      string,
      { writer: number | null; stalePrimaries: number[] },
      ReturnType<typeof up> | { checked: boolean; status: { reachable: boolean; role: 'primary' | 'standby' | null } },
      boolean,
    ]
  > = [
    ['the writer', { writer: 1, stalePrimaries: [] }, up('primary'), true],
    ['not checked yet', { writer: 0, stalePrimaries: [] }, { checked: false, status: { reachable: false, role: null } }, true],
    ['a primary not the writer (no writer yet)', { writer: null, stalePrimaries: [] }, up('primary'), true],
    ['a stale primary', { writer: 0, stalePrimaries: [1] }, up('primary'), false],
    ['a standby', { writer: 0, stalePrimaries: [] }, up('standby'), false],
    ['unreachable', { writer: 0, stalePrimaries: [] }, { checked: true, status: { reachable: false, role: 'primary' } }, false],
  ];
  for (const [what, decision, monitor, stays] of rows) assert.equal(mustStay(decision, 1, monitor), stays, what);
});
