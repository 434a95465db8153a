import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeView,
  membersToRebuild,
  runningNames,
  settledLeader,
  type PatroniClusterView,
  type PatroniMemberView,
} from '@pg-split/harness';

const member = (name: string, role: string, state: string, timeline?: number): PatroniMemberView => ({
  name,
  role,
  state,
  host: `127.0.0.${name.slice(1)}`,
  port: 5432,
  ...(timeline === undefined ? {} : { timeline }),
});
const view = (...members: PatroniMemberView[]): PatroniClusterView => ({ members });
const allBut = (names: string[]) => (leader: string) => names.filter((n) => n !== leader);

test('settledLeader: a running leader, every other running member a replica on its timeline (table)', () => {
  const names = ['m1', 'm2', 'm3'];
  const rows: ReadonlyArray<[string, PatroniClusterView, string | null]> = [
    [
      'settled',
      view(member('m1', 'leader', 'running', 2), member('m2', 'replica', 'streaming', 2), member('m3', 'replica', 'running', 2)),
      'm1',
    ],
    [
      'no leader',
      view(member('m1', 'replica', 'running', 2), member('m2', 'replica', 'streaming', 2), member('m3', 'replica', 'running', 2)),
      null,
    ],
    [
      'leader not running',
      view(member('m1', 'leader', 'starting', 2), member('m2', 'replica', 'streaming', 2), member('m3', 'replica', 'running', 2)),
      null,
    ],
    [
      'a replica on another timeline',
      view(member('m1', 'leader', 'running', 3), member('m2', 'replica', 'streaming', 2), member('m3', 'replica', 'running', 3)),
      null,
    ],
    [
      'a replica stopped',
      view(member('m1', 'leader', 'running', 2), member('m2', 'replica', 'stopped'), member('m3', 'replica', 'running', 2)),
      null,
    ],
    ['a replica missing from the view', view(member('m1', 'leader', 'running', 2), member('m3', 'replica', 'running', 2)), null],
  ];
  for (const [what, v, leader] of rows) assert.equal(settledLeader(v, allBut(names), false)?.name ?? null, leader, what);
  const settled = rows[0]?.[1] ?? view();
  assert.equal(settledLeader(settled, allBut(names), false, 'm1'), null, 'the leader is the one to move away from');
  assert.equal(settledLeader(settled, allBut(['m1', 'm2']), false)?.name, 'm1', 'a member not running (frozen, stopped) is not waited for');
  assert.equal(settledLeader(settled, allBut(names), true), null, 'synchronous_mode: no sync_standby chosen yet');
  const sync = view(
    member('m1', 'leader', 'running', 2),
    member('m2', 'sync_standby', 'streaming', 2),
    member('m3', 'replica', 'running', 2),
  );
  assert.equal(settledLeader(sync, allBut(names), true)?.name, 'm1');
});

test('membersToRebuild: failed, on another timeline than the leader, or unfit by its server; never the leader', () => {
  const v = view(
    member('m1', 'leader', 'running', 3),
    member('m2', 'replica', 'start failed', 3),
    member('m3', 'replica', 'running', 2),
    member('m4', 'replica', 'streaming', 3),
    member('m5', 'replica', 'streaming', 3),
  );
  assert.deepEqual(
    membersToRebuild(v, ['m5', 'm1']).map((m) => m.name),
    ['m2', 'm3', 'm5'],
  );
  assert.deepEqual(
    membersToRebuild(view(member('m1', 'replica', 'running', 2), member('m2', 'replica', 'running', 3)), []).map((m) => m.name),
    [],
    'no leader: timelines are not compared',
  );
});

test('describeView and runningNames: what an error quotes', () => {
  const v = view(member('m1', 'leader', 'running', 2), member('m2', 'replica', 'streaming'), member('m3', 'replica', 'stopped'));
  assert.equal(describeView(v), 'm1 leader running timeline 2; m2 replica streaming timeline ?; m3 replica stopped timeline ?');
  assert.deepEqual([...runningNames(v)], ['m1', 'm2']);
});
