import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoleDecision } from '../../src/roles/role-decision.js';
import { fenceAfterEpisode, fencePlan, type FencePlan } from '../../src/split/pool/fencer.js';

const decision = (d: Partial<RoleDecision>): RoleDecision => ({
  writer: null,
  readers: [],
  stalePrimaries: [],
  unconfirmed: [],
  newestTimeline: 2,
  ...d,
});

test('fencePlan: what a change of the decision cuts (table)', () => {
  const silentIs =
    (...silent: number[]) =>
    (i: number): boolean =>
      silent.includes(i);
  const rows: ReadonlyArray<[string, RoleDecision, RoleDecision, ((i: number) => boolean) | null, FencePlan]> = [
    [
      'a stale primary (split brain): all its connections',
      decision({ writer: 0 }),
      decision({ writer: 0, stalePrimaries: [1] }),
      null,
      { fence: [1], fenceCheckedOut: [], silent: null },
    ],
    [
      'a stale primary still stale: cut again (new connections since are cut too)',
      decision({ writer: 0, stalePrimaries: [1] }),
      decision({ writer: 0, stalePrimaries: [1] }),
      null,
      { fence: [1], fenceCheckedOut: [], silent: null },
    ],
    [
      'the leader whose Patroni went silent: only what the application holds; single statements go on, witnessed',
      decision({ writer: 0 }),
      decision({ unconfirmed: [0] }),
      silentIs(0),
      { fence: [], fenceCheckedOut: [0], silent: 0 },
    ],
    [
      'a leader Patroni is demoting (its Patroni answers: a switchover): nothing cut',
      decision({ writer: 0 }),
      decision({ unconfirmed: [0] }),
      silentIs(),
      { fence: [], fenceCheckedOut: [], silent: null },
    ],
    [
      'a silent primary while another is the writer: all its connections',
      decision({ writer: 1 }),
      decision({ writer: 1, unconfirmed: [0] }),
      silentIs(0),
      { fence: [0], fenceCheckedOut: [], silent: null },
    ],
    [
      'two silent primaries: no silent leader, both cut',
      decision({ writer: 0 }),
      decision({ unconfirmed: [0, 1] }),
      silentIs(0, 1),
      { fence: [0, 1], fenceCheckedOut: [], silent: null },
    ],
    [
      'still silent, already unconfirmed before: nothing cut again, the leader still silent',
      decision({ unconfirmed: [0] }),
      decision({ unconfirmed: [0] }),
      silentIs(0),
      { fence: [], fenceCheckedOut: [], silent: 0 },
    ],
    [
      'without a second authority, an unconfirmed primary is not judged',
      decision({ writer: 0 }),
      decision({ unconfirmed: [0] }),
      null,
      { fence: [], fenceCheckedOut: [], silent: null },
    ],
  ];
  for (const [what, previous, current, isSilent, plan] of rows) assert.deepEqual(fencePlan({ previous, current }, isSilent), plan, what);
});

test('fenceAfterEpisode: the ended silent leader is cut unless Patroni confirmed it as the writer again', () => {
  assert.equal(fenceAfterEpisode(0, 1), 0, 'another member was promoted');
  assert.equal(fenceAfterEpisode(0, null), 0, 'no writer yet');
  assert.equal(fenceAfterEpisode(0, 0), null, 'the same leader, confirmed again');
  assert.equal(fenceAfterEpisode(null, 1), null, 'no episode ended');
});
