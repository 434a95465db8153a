import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPatroniCluster, type PatroniCluster, type PatroniMember } from '@pg-split/harness';
import { renderProbe } from '../../src/cli/probe-render.js';
import { probeCluster } from '../../src/probe/probe.js';
import type { MemberEvent } from '../../src/split/discovery/member-changes.js';
import { PatroniRun } from '../support/patroni-run.js';
import { until } from '../support/until.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

/**
 * Discovery from Patroni (`GET /cluster`) on Debian's patroni and etcd: the
 * connection string names one member; the others, and members added and
 * removed later, come from Patroni. Who answered is asked of the servers.
 */

let cluster: PatroniCluster;

before(async () => {
  cluster = await startPatroniCluster({ members: 3, firstAddress: net.first });
});

after(() => cluster?.destroy());

test(
  "probe --patroni shows Patroni's view beside pg-split's own, marking the members the string does not name",
  { timeout: 60_000 },
  async () => {
    const leader = await cluster.waitUntilSettled();
    const report = await probeCluster(cluster.url([leader]), { patroniPort: cluster.apiPort });
    assert.deepEqual(report.patroni?.members.map((m) => m.host).sort(), cluster.members.map((m) => m.host).sort());
    assert.equal(report.patroni?.members.find((m) => m.host === leader.host)?.role, 'leader');
    const text = renderProbe(report);
    for (const m of cluster.members)
      assert.match(text, new RegExp(`(^|\\s)${m === leader ? '' : '\\+'}${m.name}\\s+${m.host.replaceAll('.', '\\.')}:`, 'm'), text);
  },
);

test(
  'one member in the string: the others come from Patroni; an added member serves reads (its zone tag read), a noloadbalance one none, a removed one costs no statement',
  { timeout: 240_000 },
  async (t) => {
    const leader = await cluster.waitUntilSettled();
    const run = await PatroniRun.start(
      t,
      cluster,
      { discovery: { source: 'patroni', port: cluster.apiPort, intervalMillis: 500 } },
      cluster.url([leader]),
    );
    const events: Array<[string, MemberEvent]> = [];
    run.split.on('member-added', (e) => events.push(['added', e])).on('member-removed', (e) => events.push(['removed', e]));
    const hosts = (): string[] =>
      run.split
        .topology()
        .nodes.map((n) => n.host)
        .sort();
    await until(
      'every member is known',
      () =>
        hosts().join() ===
        cluster.members
          .map((m) => m.host)
          .sort()
          .join(),
      60_000,
    );
    const nodes = run.split.topology().nodes;
    assert.ok(
      nodes.filter((n) => n.host !== leader.host).every((n) => n.origin === 'patroni'),
      JSON.stringify(nodes.map((n) => [n.host, n.origin])),
    );
    assert.ok(
      nodes.some((n) => n.patroni !== null),
      'discovery from Patroni makes Patroni a second authority for the writer',
    );

    const adding = Date.now();
    const added = await cluster.addMember({ zone: 'far' });
    const addedAt = Date.now();
    await until('the added member answers reads', () => run.reads.serversSince(addedAt).has(added.host), 120_000);
    assert.deepEqual(
      run.split
        .topology()
        .nodes.filter((n) => n.zone !== null)
        .map((n) => [n.host, n.zone]),
      [[added.host, 'far']],
      "Patroni's zone tag is the member's zone",
    );
    const firstRead = run.reads.reads.find((r) => r.at > addedAt && r.server === added.host)!.at;
    t.diagnostic(
      `${added.name} (${added.host}): cloned and started by Patroni in ${addedAt - adding} ms; first read ${firstRead - addedAt} ms after that, ${firstRead - adding} ms after it was added`,
    );

    const quiet = await cluster.addMember({ noloadbalance: true });
    await until(
      'the noloadbalance member is known and tagged',
      () => run.split.topology().nodes.some((n) => n.host === quiet.host && n.noLoadBalance && n.reachable),
      120_000,
    );
    const taggedAt = Date.now();
    const readsBefore = run.reads.reads.length;
    await until('the reader runs 100 more reads', () => run.reads.reads.length >= readsBefore + 100, 30_000);
    assert.ok(!run.reads.serversSince(taggedAt).has(quiet.host), 'a read went to a noloadbalance member');

    const removed = cluster.members.find((m: PatroniMember) => m !== leader && m !== added && m !== quiet)!;
    const removedAt = Date.now();
    await cluster.removeMember(removed);
    await until('the removed member is gone from topology()', () => !hosts().includes(removed.host), 60_000);
    t.diagnostic(
      `${removed.name} left topology() ${Date.now() - removedAt} ms after it was stopped (Patroni drops a member once its key expires)`,
    );
    await run.underLoad();
    const { lost } = await run.finish();
    assert.deepEqual(run.writes.failures, [], 'failed writes');
    assert.deepEqual(run.reads.failures, [], 'failed reads');
    assert.deepEqual(lost, []);
    assert.ok(
      run.writes.acks.every((a) => a.server === leader.host),
      'the writer moved on discovery',
    );
    assert.ok(
      events.some(([name, e]) => name === 'added' && e.host === added.host && e.origin === 'patroni'),
      'no member-added event for the added member',
    );
    assert.ok(
      events.some(([name, e]) => name === 'removed' && e.host === removed.host),
      'no member-removed event for the removed member',
    );
  },
);

test(
  'with discovery from Patroni, Patroni keeps writes off a frozen leader: no acknowledged write lost but what Patroni discarded',
  { timeout: 240_000 },
  async (t) => {
    const leader = await cluster.waitUntilSettled();
    const run = await PatroniRun.start(
      t,
      cluster,
      { discovery: { source: 'patroni', port: cluster.apiPort, intervalMillis: 500 } },
      cluster.url([leader]),
    );
    await until('every member is known', () => run.split.topology().nodes.length === cluster.members.length, 60_000);
    await run.underLoad();
    const frozenAt = Date.now();
    await leader.freeze('patroni-and-postmaster');
    // Frozen until Patroni has promoted another member and the writer has written there.
    await run.leaderReplaced(leader);
    leader.thaw();
    const healed = await cluster.heal();
    const settled = Date.now();
    const reached = await run.writerReaches(healed, settled);
    t.diagnostic(`writes on Patroni's leader ${healed.name} ${reached - settled} ms after the cluster settled`);
    // Host indexes are pg-split's (the string's member first, then in the order discovery found them).
    const hostOf = new Map(run.split.topology().nodes.map((n) => [n.hostIndex, n.host]));
    const { lost } = await run.finish();
    const discardedOn = new Set(run.discarded.flatMap((e) => e.nodes.map((i) => hostOf.get(i))));
    const acks = new Map(run.writes.acks.map((a) => [a.id, a]));
    const ours = lost.filter((id) => !discardedOn.has(acks.get(id)?.server));
    assert.deepEqual(ours, [], `acknowledged writes lost off a discarded timeline: ${ours.length}`);
    t.diagnostic(
      `frozen at +0; ${run.writes.acks.filter((a) => a.server === leader.host && a.at > frozenAt).length} writes acknowledged by the frozen leader after it froze, ${lost.length} lost, ${run.discarded.length} timeline(s) discarded`,
    );
  },
);
