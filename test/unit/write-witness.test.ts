import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { PgSplitError } from '../../src/errors.js';
import type { RoleDecision } from '../../src/roles/role-decision.js';
import {
  POLL_MILLIS,
  requiredWitnesses,
  silentLeader,
  witnessedBy,
  WriteWitness,
  type WitnessSteps,
} from '../../src/split/patroni/write-witness.js';
import { turn } from '../support/turns.js';

const decision = (writer: number | null, unconfirmed: number[]): RoleDecision => ({
  writer,
  readers: [],
  stalePrimaries: [],
  unconfirmed,
  newestTimeline: 1,
});

test('silentLeader: the one unconfirmed primary, when no writer is confirmed and its Patroni is silent', () => {
  const silent = (i: number): boolean => i === 0;
  assert.equal(silentLeader(decision(null, [0]), silent), 0);
  assert.equal(silentLeader(decision(null, [1]), silent), null, 'unconfirmed but answering: Patroni is demoting it (switchover)');
  assert.equal(silentLeader(decision(2, [0]), silent), null, 'a confirmed writer takes every write');
  assert.equal(
    silentLeader(decision(null, [0, 1]), () => true),
    null,
    'two unconfirmed primaries: no one gets writes',
  );
  assert.equal(silentLeader(decision(null, []), silent), null);
});

test('requiredWitnesses: every active member but the leader; none when Patroni lists a member pg-split does not know', () => {
  const active = new Map([
    ['10.0.0.1:5432', 0],
    ['10.0.0.2:5432', 1],
    ['10.0.0.3:5432', 2],
  ]);
  assert.deepEqual(requiredWitnesses(['10.0.0.1:5432', '10.0.0.2:5432', '10.0.0.3:5432'], active, 0), [1, 2]);
  assert.deepEqual(requiredWitnesses(['10.0.0.2:5432'], active, 0), [1, 2], 'a member Patroni no longer lists is still asked');
  assert.equal(requiredWitnesses(['10.0.0.1:5432', '10.0.0.4:5432'], active, 0), null, 'Patroni could promote 10.0.0.4 without the write');
});

test('witnessedBy: every witness at or past the target, and at least one witness', () => {
  const received = new Map([
    [1, 100n],
    [2, 150n],
  ]);
  assert.equal(witnessedBy(100n, received, [1, 2]), true);
  assert.equal(witnessedBy(101n, received, [1, 2]), false);
  assert.equal(witnessedBy(100n, received, [1, 2, 3]), false, 'a witness that never answered');
  assert.equal(witnessedBy(0n, received, []), false);
});

/** Steps over a table of positions (the witness's decisions, not a server's). */
function steps(received: Map<number, string | null>, members = ['a:1', 'b:1', 'c:1']): WitnessSteps & { readies: number } {
  const s = {
    readies: 0,
    patroniMembers: async () => members,
    activeMembers: () =>
      new Map([
        ['a:1', 0],
        ['b:1', 1],
        ['c:1', 2],
      ]),
    received: async (i: number) => received.get(i) ?? null,
    name: (i: number) => `m${i}`,
    onReady: () => {
      s.readies++;
    },
  };
  return s;
}

const settle = (p: Promise<void>): Promise<string> =>
  p.then(
    () => 'acknowledged',
    (e: PgSplitError) => e.code,
  );
/** Turns of the event loop (the witness's steps answer at once): its promises settle, no clock moves. */
async function turns(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

/** The witness's timers (its poll interval, a write's timeout) on mock time: `t.mock.timers.tick()` moves them. */
function mockTime(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout'] });
}

test('WriteWitness: a write is acknowledged once every other member has received it', async (t) => {
  mockTime(t);
  const positions = new Map<number, string | null>([
    [1, '0/100'],
    [2, '0/50'],
  ]);
  const s = steps(positions);
  const witness = new WriteWitness(s, 5000);
  witness.follow(0, null);
  await turns();
  assert.equal(witness.ready, 0);
  assert.equal(s.readies, 1);
  const write = settle(witness.confirm(0, '0/80'));
  let state = 'waiting';
  void write.then((r) => (state = r));
  await turns();
  assert.equal(state, 'waiting', 'member 2 has not received it');
  positions.set(2, '0/80');
  t.mock.timers.tick(POLL_MILLIS);
  assert.equal(await write, 'acknowledged');
  witness.close(new PgSplitError('PGSPLIT_ENDED', 'ended'));
});

test('WriteWitness: the episode ends: waiting writes fail when another member leads, are acknowledged when the leader is confirmed again', async (t) => {
  mockTime(t);
  const witness = new WriteWitness(
    steps(
      new Map([
        [1, '0/10'],
        [2, '0/10'],
      ]),
    ),
    5000,
  );
  witness.follow(0, null);
  await turns();
  const lost = settle(witness.confirm(0, '0/80'));
  assert.equal(witness.follow(null, 1), 0);
  assert.equal(await lost, 'PGSPLIT_WRITE_UNCONFIRMED');
  assert.equal(witness.ready, null);
  witness.follow(0, null);
  await turns();
  const kept = settle(witness.confirm(0, '0/80'));
  assert.equal(witness.follow(null, 0), 0);
  assert.equal(await kept, 'acknowledged', 'Patroni confirms the same leader again: its timeline goes on');
  assert.equal(await settle(witness.confirm(0, '0/80')), 'PGSPLIT_WRITE_UNCONFIRMED', 'no episode: nothing is witnessed');
  witness.close(new PgSplitError('PGSPLIT_ENDED', 'ended'));
});

test('WriteWitness: never ready when Patroni lists an unknown member; a waiting write fails at the timeout', async (t) => {
  mockTime(t);
  const unknown = new WriteWitness(steps(new Map(), ['a:1', 'b:1', 'z:1']), 5000);
  unknown.follow(0, null);
  await turns();
  assert.equal(unknown.ready, null);
  unknown.close(new PgSplitError('PGSPLIT_ENDED', 'ended'));
  const slow = new WriteWitness(
    steps(
      new Map([
        [1, '0/10'],
        [2, '0/10'],
      ]),
    ),
    50,
  );
  slow.follow(0, null);
  await turns();
  const timedOut = settle(slow.confirm(0, '0/80'));
  await turns();
  t.mock.timers.tick(50);
  assert.equal(await timedOut, 'PGSPLIT_WRITE_UNCONFIRMED');
  slow.close(new PgSplitError('PGSPLIT_ENDED', 'ended'));
});

test('WriteWitness: a write that committed before the witnesses are known waits for them (a statement in flight at the cut-off)', async (t) => {
  mockTime(t);
  let listMembers: (keys: string[]) => void = () => undefined;
  const s = steps(
    new Map([
      [1, '0/90'],
      [2, '0/90'],
    ]),
  );
  const witness = new WriteWitness({ ...s, patroniMembers: () => new Promise<string[]>((r) => (listMembers = r)) }, 5000);
  witness.follow(0, null);
  assert.equal(witness.leader, 0);
  assert.equal(witness.ready, null);
  const write = settle(witness.confirm(0, '0/80'));
  let state = 'waiting';
  void write.then((r) => (state = r));
  await turns();
  assert.equal(state, 'waiting', 'no witness known yet');
  listMembers(['a:1', 'b:1', 'c:1']);
  await turns();
  t.mock.timers.tick(POLL_MILLIS);
  assert.equal(await write, 'acknowledged');
  witness.close(new PgSplitError('PGSPLIT_ENDED', 'ended'));
});
