import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { withReplayLag, libpqChoice } from '../../src/roles/cluster-view.js';
import type { NodeStatus } from '../../src/roles/node-status.js';
import { policyFromTarget, resolveSplitOptions } from '../../src/split/options.js';
import { failoverSignal, signalOfSqlstate } from '../../src/split/pool/sqlstate.js';
import { decideRoles, type ReaderPolicy } from '../../src/roles/role-decision.js';
import { OptionError } from '../../src/errors.js';

function node(hostIndex: number, role: 'primary' | 'standby' | null, extra: Partial<NodeStatus> = {}): NodeStatus {
  return {
    hostIndex,
    host: `h${hostIndex}`,
    address: null,
    port: 5432,
    reachable: role !== null,
    error: role === null ? 'down' : null,
    role,
    readOnly: role === 'standby',
    serverVersion: '15',
    timeline: 1,
    lsn: '0/100',
    replayLagBytes: null,
    replayLagSeconds: null,
    replayPaused: null,
    streaming: null,
    rttMillis: 1,
    checkedAt: '',
    ...extra,
  };
}

const decide = (statuses: NodeStatus[], policy: ReaderPolicy = 'prefer-standby', newestTimeline = 0) =>
  decideRoles({ statuses, policy, newestTimeline });

test('writer is the read-write primary; readers are the standbys', () => {
  const d = decide([node(0, 'standby'), node(1, 'primary'), node(2, 'standby')]);
  assert.equal(d.writer, 1);
  assert.deepEqual(d.readers, [0, 2]);
});

test('a primary whose sessions default to read-only is never the writer (libpq read-write)', () => {
  const d = decide([node(0, 'primary', { readOnly: true }), node(1, 'standby')]);
  assert.equal(d.writer, null);
});

test('reader policies', () => {
  const cluster = [node(0, 'primary'), node(1, 'standby'), node(2, null)];
  assert.deepEqual(decide(cluster, 'prefer-standby').readers, [1]);
  assert.deepEqual(decide(cluster, 'standby').readers, [1]);
  assert.deepEqual(decide(cluster, 'any').readers, [0, 1]);
  assert.deepEqual(decide(cluster, 'primary').readers, [0]);
  const noStandby = [node(0, 'primary'), node(1, null)];
  assert.deepEqual(decide(noStandby, 'prefer-standby').readers, [0]);
  assert.deepEqual(decide(noStandby, 'standby').readers, []);
});

test('prefer-standby falls back to the primary only once every host named at start has been checked', () => {
  const early = { statuses: [node(0, 'primary'), node(1, null)], policy: 'prefer-standby' as const, newestTimeline: 0 };
  assert.deepEqual(decideRoles({ ...early, firstChecksPending: true }).readers, []);
  assert.deepEqual(decideRoles({ ...early, firstChecksPending: false }).readers, [0]);
  const oneStandbyKnown = [node(0, 'primary'), node(1, 'standby'), node(2, null)];
  assert.deepEqual(
    decideRoles({ statuses: oneStandbyKnown, policy: 'prefer-standby', newestTimeline: 0, firstChecksPending: true }).readers,
    [1],
  );
  assert.deepEqual(decideRoles({ ...early, policy: 'any', firstChecksPending: true }).readers, []);
});

test('at start, no writer until every host named in the string has been checked: a stale primary may answer before its successor', () => {
  const staleFirst = [node(0, 'primary', { timeline: 1 }), node(1, null)];
  const pending = decideRoles({ statuses: staleFirst, policy: 'prefer-standby', newestTimeline: 0, firstChecksPending: true });
  assert.equal(pending.writer, null);
  const heard = [node(0, 'primary', { timeline: 1 }), node(1, 'primary', { timeline: 2 })];
  const decided = decideRoles({ statuses: heard, policy: 'prefer-standby', newestTimeline: 0, firstChecksPending: false });
  assert.equal(decided.writer, 1);
  assert.deepEqual(decided.stalePrimaries, [0]);
});

test('with hosts unchecked, a primary is the writer on evidence: a standby that answered streams on its timeline, or the orchestrator names it', () => {
  const decideEarly = (statuses: NodeStatus[], extra: { isConfirmedLeader?: (i: number) => boolean } = {}) =>
    decideRoles({ statuses, policy: 'prefer-standby', newestTimeline: 0, firstChecksPending: true, ...extra });
  const streams = { timeline: 2, streaming: true };
  // A silent host anywhere in the list: the answering standby streams on the primary's timeline, so no newer primary hides there.
  const silentLast = decideEarly([node(0, 'primary', { timeline: 2 }), node(1, 'standby', streams), node(2, null)]);
  assert.equal(silentLast.writer, 0);
  assert.deepEqual(silentLast.readers, [1]);
  assert.equal(decideEarly([node(0, null), node(1, 'standby', streams), node(2, 'primary', { timeline: 2 })]).writer, 2);
  // No evidence: a standby with no WAL receiver, one streaming an older timeline, or no standby at all (two hosts).
  assert.equal(
    decideEarly([node(0, 'primary', { timeline: 2 }), node(1, 'standby', { timeline: 2, streaming: false }), node(2, null)]).writer,
    null,
  );
  assert.equal(
    decideEarly([node(0, 'primary', { timeline: 2 }), node(1, 'standby', { timeline: 1, streaming: true }), node(2, null)]).writer,
    null,
  );
  assert.equal(decideEarly([node(0, null), node(1, 'primary', { timeline: 2 })]).writer, null);
  // The orchestrator names it leader: evidence enough; one it does not name is never the writer.
  assert.equal(decideEarly([node(0, null), node(1, 'primary')], { isConfirmedLeader: (i) => i === 1 }).writer, 1);
  assert.equal(
    decideEarly([node(0, null), node(1, 'primary'), node(2, 'standby', { streaming: true })], { isConfirmedLeader: () => false }).writer,
    null,
  );
  // A standby streaming a newer timeline than the answering primary makes it stale, as always.
  const stale = decideEarly([node(0, 'primary', { timeline: 1 }), node(1, 'standby', streams), node(2, null)]);
  assert.equal(stale.writer, null);
  assert.deepEqual(stale.stalePrimaries, [0]);
});

test('split brain: the newest timeline wins, and an older primary is never used again', () => {
  const d1 = decide([node(0, 'primary', { timeline: 1 }), node(1, 'primary', { timeline: 2 })]);
  assert.equal(d1.writer, 1);
  assert.deepEqual(d1.stalePrimaries, [0]);
  const d2 = decide([node(0, 'primary', { timeline: 1 }), node(1, null)], 'prefer-standby', d1.newestTimeline);
  assert.equal(d2.writer, null);
  assert.deepEqual(d2.readers, []);
  assert.deepEqual(d2.stalePrimaries, [0]);
});

test('split brain: a standby streaming a newer timeline makes an older primary stale before the new primary is seen', () => {
  const d = decide([node(0, 'primary', { timeline: 3 }), node(1, null), node(2, 'standby', { timeline: 4 })]);
  assert.equal(d.writer, null);
  assert.deepEqual(d.stalePrimaries, [0]);
  assert.equal(d.newestTimeline, 4);
  const healthy = decide([node(0, 'primary', { timeline: 4 }), node(1, 'standby', { timeline: 4 }), node(2, 'standby', { timeline: 3 })]);
  assert.equal(healthy.writer, 0, 'a standby still on the old timeline changes nothing');
});

test('lagging standbys can be left out, and prefer-standby then falls back to the primary', () => {
  const statuses = [
    node(0, 'primary', { lsn: '0/3000000' }),
    node(1, 'standby', { lsn: '0/2FFFFF6' }),
    node(2, 'standby', { lsn: '0/2FFD8F0' }),
  ];
  const d = decideRoles({ statuses, policy: 'prefer-standby', newestTimeline: 0, isTooFarBehind: (s) => (s.replayLagBytes ?? 0) > 100 });
  assert.deepEqual(d.readers, [1]);
  const all = decideRoles({ statuses, policy: 'prefer-standby', newestTimeline: 0, isTooFarBehind: () => true });
  assert.deepEqual(all.readers, [0]);
});

test('replay lag in bytes is measured against the writer the decision chose', () => {
  const statuses = [
    node(0, 'primary', { lsn: '0/3000000', timeline: 2 }),
    node(1, 'standby', { lsn: '0/2FFFF00', timeline: 2 }),
    node(2, 'primary', { lsn: '1/0', timeline: 1 }),
  ];
  const d = decideRoles({ statuses, policy: 'prefer-standby', newestTimeline: 0, isTooFarBehind: (s) => (s.replayLagBytes ?? 0) > 0x1000 });
  assert.equal(d.writer, 0);
  assert.deepEqual(d.stalePrimaries, [2]);
  assert.deepEqual(d.readers, [1], 'the stale primary, 4 GB ahead, is not what lag is measured against');
  assert.equal(withReplayLag(statuses, d.writer)[1]?.replayLagBytes, 0x100);
});

test('a standby that has replayed everything its primary has is not behind in seconds either (a restarted standby on an idle cluster)', () => {
  // What the issue saw: lag bytes 0, but the standby's own delay query counting from its start (its receiver restarted below its replay position).
  const statuses = [
    node(0, 'primary', { lsn: '0/4000060' }),
    node(1, 'standby', { lsn: '0/4000060', replayLagSeconds: 12.861 }),
    node(2, 'standby', { lsn: '0/4000000', replayLagSeconds: 3.5 }),
  ];
  const d = decideRoles({ statuses, policy: 'prefer-standby', newestTimeline: 0, isTooFarBehind: (s) => (s.replayLagSeconds ?? 0) > 5 });
  const lagged = withReplayLag(statuses, d.writer);
  assert.deepEqual([lagged[1]?.replayLagBytes, lagged[1]?.replayLagSeconds], [0, 0]);
  assert.deepEqual([lagged[2]?.replayLagBytes, lagged[2]?.replayLagSeconds], [0x60, 3.5], 'a standby really behind keeps its delay');
  assert.deepEqual(d.readers, [1, 2], 'a current standby is never left out as lagging');
});

test('with every primary ruled out (a remembered newer timeline, or read-only), lag is not measured against any of them', () => {
  const stale = [node(0, 'primary', { lsn: '1/0', timeline: 2 }), node(1, 'standby', { lsn: '0/100', timeline: 2 })];
  const d = decideRoles({
    statuses: stale,
    policy: 'prefer-standby',
    newestTimeline: 3,
    isTooFarBehind: (s) => (s.replayLagBytes ?? 0) > 0,
  });
  assert.equal(d.writer, null);
  assert.deepEqual(d.readers, [1], 'a standby is not judged against a primary already ruled out');
  assert.equal(withReplayLag(stale, d.writer)[1]?.replayLagBytes, null);
  const readOnly = [node(0, 'primary', { lsn: '1/0', readOnly: true }), node(1, 'standby', { lsn: '0/100' })];
  assert.equal(withReplayLag(readOnly, decide(readOnly).writer)[1]?.replayLagBytes, null);
});

test("libpq's choice from probed statuses", () => {
  const statuses = [node(0, 'standby'), node(1, null), node(2, 'primary')];
  assert.equal(libpqChoice(statuses, 'any'), 0);
  assert.equal(libpqChoice(statuses, 'read-write'), 2);
  assert.equal(libpqChoice(statuses, 'standby'), 0);
  assert.equal(libpqChoice([node(0, 'primary')], 'prefer-standby'), 0);
  assert.equal(libpqChoice([node(0, 'primary')], 'standby'), null);
});

test('failover signals come from SQLSTATE and socket codes only', () => {
  assert.equal(signalOfSqlstate('25006'), 'read-only');
  assert.equal(signalOfSqlstate('57P01'), 'shutdown');
  assert.equal(signalOfSqlstate('57P02'), 'shutdown');
  assert.equal(signalOfSqlstate('57P03'), 'cannot-connect');
  assert.equal(signalOfSqlstate('08006'), 'connection-lost');
  assert.equal(signalOfSqlstate('08P01'), 'connection-lost');
  assert.equal(signalOfSqlstate('42P01'), null);
  assert.equal(signalOfSqlstate('23505'), null);
  assert.equal(failoverSignal(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'connection-lost');
  assert.equal(
    failoverSignal(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' })),
    'read-only',
  );
  assert.equal(
    failoverSignal(new Error('cannot execute INSERT in a read-only transaction')),
    null,
    'the message text alone decides nothing',
  );
});

const target = (s: string) => resolveConnInfo(s, { env: {}, osUser: () => 'u', homeDir: () => null });

test('reader policy from target_session_attrs', () => {
  assert.equal(policyFromTarget(target('host=a,b')), 'prefer-standby');
  assert.equal(policyFromTarget(target('host=a,b target_session_attrs=any')), 'any');
  assert.equal(policyFromTarget(target('host=a,b target_session_attrs=standby')), 'standby');
  assert.equal(policyFromTarget(target('host=a,b target_session_attrs=read-only')), 'standby');
  assert.equal(policyFromTarget(target('host=a,b target_session_attrs=read-write')), 'prefer-standby');
});

test('options are validated once with clear errors', () => {
  const t = target('host=a connect_timeout=3');
  const opts = resolveSplitOptions({}, t);
  assert.equal(opts.checkTimeoutMillis, 3000);
  assert.equal(opts.recheckMillis, 2000);
  assert.ok(Object.isFrozen(opts));
  const bad = (o: object, message: RegExp) =>
    assert.throws(
      () => resolveSplitOptions(o, t),
      (e: unknown) => e instanceof OptionError && e.code === 'PGSPLIT_OPTION_INVALID' && message.test(e.message),
    );
  bad({ recheckMillis: -1 }, /`recheckMillis` to be a positive finite number/);
  bad({ failoverTimeoutMillis: Number.NaN }, /`failoverTimeoutMillis`/);
  // Longer than a timer can be: Node would fire it after 1 ms.
  bad(
    { failoverTimeoutMillis: 2 ** 53 },
    /`failoverTimeoutMillis` to be a positive finite number of milliseconds up to 2147483647, got 9007199254740992/,
  );
  bad({ writer: { idleTimeoutMillis: 2 ** 31 } }, /`writer.idleTimeoutMillis`/);
  assert.equal(resolveSplitOptions({ failoverTimeoutMillis: 2 ** 31 - 1 }, t).failoverTimeoutMillis, 2 ** 31 - 1);
  bad({ balance: 'quickest' }, /`balance` to be one of 'round-robin', 'random', 'least-busy', 'fastest'/);
  bad({ readerPolicy: 'replica' }, /`readerPolicy`/);
  bad({ zone: '' }, /`zone` to be a non-empty string, got ""/);
  bad({ zone: 3 }, /`zone` to be a non-empty string, got 3/);
  bad({ hosts: [] }, /`hosts` to be an object/);
  bad({ hosts: { db1: { weight: 0 } } }, /`hosts\['db1'\].weight` to be a positive finite number, got 0/);
  bad({ hosts: { db1: { zone: null } } }, /`hosts\['db1'\].zone` to be a non-empty string/);
  bad({ hosts: { db1: { zones: 'a' } } }, /Unknown option `hosts\['db1'\].zones`; did you mean `hosts\['db1'\].zone`\?/);
  bad({ hosts: { '': { zone: 'a' } } }, /each key of `hosts` to be a host or host:port/);
  bad({ fallbackReads: {} }, /`fallbackReads.max` to be a positive whole number, got undefined/);
  bad({ fallbackReads: { max: 1.5 } }, /`fallbackReads.max` to be a positive whole number, got 1.5/);
  bad({ fallbackReads: { max: 2, whenFull: 'drop' } }, /`fallbackReads.whenFull` to be one of 'wait', 'error'/);
  assert.deepEqual(resolveSplitOptions({ fallbackReads: { max: 2 } }, t).fallbackReads, { max: 2, whenFull: 'wait' });
  assert.equal(resolveSplitOptions({}, t).fallbackReads, null, 'no bound by default');
  const placed = resolveSplitOptions({ zone: 'a', hosts: { db1: { zone: 'a', weight: 2 }, 'db2:5433': { zone: 'b' } } }, t);
  assert.equal(placed.zone, 'a');
  assert.deepEqual(placed.hosts.get('db1'), { zone: 'a', weight: 2 });
  assert.deepEqual(placed.hosts.get('db2:5433'), { zone: 'b', weight: null });
  bad({ writer: { host: 'x' } }, /`writer.host` is not allowed: connection settings come from the connection string/);
  bad({ reader: { password: 'x' } }, /`reader.password` is not allowed/);
});

test('a standby has caught up when its replay position is at or past the token, or at the page boundary the token sits just after', async () => {
  const { caughtUp } = await import('../../src/split/pool/freshness.js');
  assert.equal(caughtUp('0/3000148', '0/3000148'), true);
  assert.equal(caughtUp('0/3000150', '0/3000148'), true);
  assert.equal(caughtUp('0/3000140', '0/3000148'), false);
  assert.equal(caughtUp(null, '0/1'), false);
  assert.equal(caughtUp('0/55AA000', '0/55AA018'), true, 'short page header');
  assert.equal(caughtUp('0/6000000', '0/6000028'), true, 'long page header at a segment start');
  assert.equal(caughtUp('0/55A9FF0', '0/55AA018'), false, 'still before the boundary');
  assert.equal(caughtUp('1/0', '0/FFFFFFFF'), true, 'across the 32-bit halves');
});
