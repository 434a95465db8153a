import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  chownToServer,
  Etcd,
  findFreePort,
  makeClusterDir,
  startPatroniCluster,
  startTcpProxy,
  type PatroniCluster,
} from '@pg-split/harness';
import { rm } from 'node:fs/promises';
import { PgSplitError } from '../../src/errors.js';
import { connectSplit } from '../../src/split/connect-split.js';
import type { SplitOptions } from '../../src/split/options.js';
import { testNet } from '../support/net.js';
import { firstLine, runScript, SPLIT_MODULE } from '../support/run-script.js';
import { PatroniRun } from '../support/patroni-run.js';
import { PATRONI_TIMEOUT as TIMEOUT, SETTLE_BOUND_MILLIS } from '../support/patroni-tests.js';
import { until } from '../support/until.js';
import { describeMissing } from '../support/write-load.js';

const net = testNet(import.meta.url);
const IDLE_INSTANCES = 10;

/**
 * pg-split reading Patroni from etcd (option `patroni.etcd`): 3 Patroni
 * members on 3 etcd members. The REST API port is left at its default, where
 * nothing listens here: every decision below comes from etcd.
 */
describe("Patroni read from etcd's v3 watch (3 Patroni members, 3 etcd members)", () => {
  let cluster: PatroniCluster;
  const withEtcd = (endpoints?: string[]): SplitOptions => ({
    patroni: { etcd: { ...cluster.etcdOptions(), ...(endpoints ? { endpoints } : {}) } },
  });
  before(async () => {
    cluster = await startPatroniCluster({ members: 3, etcdMembers: 3, firstAddress: net.first });
  });
  after(() => cluster.destroy());

  test("a planned switchover: 0 failed statements, writes follow Patroni's leader", TIMEOUT, async (t) => {
    const run = await PatroniRun.start(t, cluster, withEtcd());
    const { settled, reached } = await run.switchover();
    const { lost } = await run.finish();
    assert.deepEqual(run.writes.failures, [], 'writes wait for the new primary, they do not fail');
    assert.deepEqual(run.reads.failures, []);
    assert.deepEqual(lost, []);
    assert.ok(reached - settled < SETTLE_BOUND_MILLIS);
    assert.ok(
      run.split.topology().nodes.every((n) => n.patroni !== null && n.patroni.error === null),
      'every node has Patroni state, read from etcd',
    );
  });

  test(
    "a string none of whose hosts is one of Patroni's members: PGSPLIT_PATRONI_MEMBERS at once, naming the members",
    TIMEOUT,
    async () => {
      // Hosts that are not members (nothing listens there either): the scope and the string disagree, which waiting will not cure.
      const elsewhere = `postgresql://postgres@${net.address(90)}:5432,${net.address(91)}:5432/postgres`;
      const started = Date.now();
      await assert.rejects(connectSplit(elsewhere, { ...withEtcd(), failoverTimeoutMillis: 60_000 }), (err: unknown) => {
        assert.ok(err instanceof PgSplitError, String(err));
        assert.equal(err.code, 'PGSPLIT_PATRONI_MEMBERS');
        for (const member of cluster.members)
          assert.match(err.message, new RegExp(`${member.name} at ${member.host.replaceAll('.', '\\.')}:`));
        return true;
      });
      assert.ok(Date.now() - started < 30_000, 'not at the failover timeout');
    },
  );

  test(
    'the leader key moving is a reason to check the member it names at once: with every timed check 30 s apart and no statement running, the new leader is found within seconds',
    TIMEOUT,
    async (t) => {
      const split = await connectSplit(cluster.url(), { ...withEtcd(), recheckMillis: 30_000, failoverRecheckMillis: 30_000 });
      t.after(() => split.end());
      const old = await cluster.waitUntilSettled();
      const writerHost = (): string | undefined => {
        const { writer, nodes } = split.topology();
        return writer === null ? undefined : nodes[writer]?.host;
      };
      await until('the writer is the leader', () => writerHost() === old.host, 20_000);
      const asked = Date.now();
      await cluster.switchover();
      const leader = await cluster.waitUntilSettled({ not: old });
      // No statement runs (no failed write, no session reporting a promotion): only the watch on etcd can prompt a check before the timers' 30 s.
      await until('the writer is the new leader', () => writerHost() === leader.host, 20_000);
      t.diagnostic(`the new leader is the writer ${Date.now() - asked} ms after the switchover was asked for`);
      const { rows } = await split.writer.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
      assert.equal(rows[0]?.host, leader.host);
    },
  );

  test(
    "the leader's Patroni killed: writes past its lease's cut-off are witnessed, none after the new leader's first, 0 lost",
    TIMEOUT,
    async (t) => {
      const run = await PatroniRun.start(t, cluster, withEtcd());
      const { old, killedAt, firstOnNew } = await run.leaderPatroniKilled();
      const lastOnOld = run.writes.acks.filter((a) => a.server === old.host).at(-1)?.at ?? killedAt;
      t.diagnostic(`last write acknowledged by the unmanaged primary ${lastOnOld - killedAt} ms after its Patroni was killed (ttl 10)`);
      assert.ok(
        run.writes.acks.every((a) => a.server !== old.host || a.at < firstOnNew),
        'the unmanaged primary acknowledged a write after the new leader did',
      );
      await old.start();
      await cluster.waitUntilSettled({ timeoutMillis: 120_000 });
      const { lost } = await run.finish();
      assert.deepEqual(lost, [], describeMissing(run.writes.acks, lost, { killed: killedAt }));
    },
  );

  for (const fault of ['stopped', 'frozen'] as const) {
    test(
      `the etcd member pg-split reads from ${fault} (the others keep quorum), a switchover meanwhile: writes follow Patroni's leader`,
      TIMEOUT,
      async (t) => {
        const run = await PatroniRun.start(t, cluster, withEtcd());
        const first = cluster.etcd.members[0];
        assert.ok(first !== undefined);
        const old = await cluster.waitUntilSettled();
        await run.underLoad();
        if (fault === 'stopped') await first.stop();
        else await first.daemon.freeze(5000);
        try {
          await cluster.switchover();
          const leader = await cluster.waitUntilSettled({ not: old });
          await run.writerReaches(leader, Date.now());
          await run.underLoad();
        } finally {
          if (fault === 'stopped') await first.restart();
          else first.daemon.thaw();
        }
        const { lost } = await run.finish();
        assert.deepEqual(lost, []);
        assert.deepEqual(run.reads.failures, []);
        t.diagnostic(`${run.writes.failures.length} failed writes`);
      },
    );
  }

  test(
    'a watch that falls silent, is cut, and finds its revision compacted: pg-split reads everything again and follows the leader',
    TIMEOUT,
    async (t) => {
      const first = cluster.etcd.members[0];
      assert.ok(first !== undefined);
      const proxy = await startTcpProxy({ host: net.address(60), target: { host: first.host, port: first.clientPort } });
      t.after(() => proxy.close());
      const run = await PatroniRun.start(t, cluster, withEtcd([`http://${proxy.host}:${proxy.port}`]));
      const old = await cluster.waitUntilSettled();
      await run.underLoad();
      // pg-split's only path to etcd stalls: its watch hears nothing while Patroni changes leader and etcd compacts its history.
      proxy.hold();
      await cluster.switchover();
      const leader = await cluster.waitUntilSettled({ not: old });
      const compactedTo = await cluster.etcd.compact();
      proxy.cut();
      proxy.release();
      const released = Date.now();
      const reached = await run.writerReaches(leader, released);
      t.diagnostic(`compacted to revision ${compactedTo}; writes on the new leader ${reached - released} ms after the path came back`);
      const { lost } = await run.finish();
      assert.deepEqual(lost, []);
    },
  );

  test(
    'idle instances hold no watch on etcd; after a switchover made while they slept, their first write lands on the new leader',
    TIMEOUT,
    async (t) => {
      const baseline = await cluster.etcd.watchers();
      const old = await cluster.waitUntilSettled();
      const splits = await Promise.all(
        Array.from({ length: IDLE_INSTANCES }, () => connectSplit(cluster.url(), { ...withEtcd(), idleAfterMillis: 2000 })),
      );
      t.after(() => Promise.all(splits.map((s) => s.end())));
      const writer = async (split: (typeof splits)[number]): Promise<string> =>
        (await split.writer.query<{ host: string }>('SELECT host(inet_server_addr()) AS host')).rows[0]?.host ?? '';
      assert.deepEqual(new Set(await Promise.all(splits.map(writer))), new Set([old.host]));
      // Each instance opens its watch right after its first read of the keys: the most seen at once before they all sleep.
      let active = 0;
      await until(
        'every instance asleep',
        async () => {
          active = Math.max(active, await cluster.etcd.watchers());
          return splits.every((s) => s.topology().idle);
        },
        30_000,
      );
      assert.ok(active >= baseline + IDLE_INSTANCES, `each active instance watches: at most ${active} watches at once, ${baseline} before`);
      await until('etcd back to the watches it had before them', async () => (await cluster.etcd.watchers()) <= baseline, 30_000);
      t.diagnostic(
        `etcd watches: ${baseline} before, ${active} with ${IDLE_INSTANCES} active instances, ${await cluster.etcd.watchers()} once they slept`,
      );
      await cluster.switchover();
      const leader = await cluster.waitUntilSettled({ not: old });
      assert.deepEqual(
        new Set(await Promise.all(splits.map(writer))),
        new Set([leader.host]),
        'every first write after waking on the new leader',
      );
    },
  );

  test('discovery from etcd: a string naming one member finds the others', TIMEOUT, async (t) => {
    const [one] = cluster.members;
    assert.ok(one !== undefined);
    const split = await connectSplit(cluster.url([one]), { discovery: { source: 'patroni', etcd: cluster.etcdOptions() } });
    t.after(() => split.end());
    await until('every member discovered', () => split.topology().nodes.length === cluster.members.length, 20_000);
    assert.deepEqual(
      split
        .topology()
        .nodes.map((n) => n.host)
        .sort(),
      cluster.members.map((m) => m.host).sort(),
    );
    const { rows } = await split.writer.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    assert.equal(rows[0]?.standby, false);
  });

  test(
    "with the pools' allowExitOnIdle, the etcd watch (and the monitoring) keep no process alive: it exits without end()",
    TIMEOUT,
    async () => {
      const script = `
      import { connectSplit } from ${SPLIT_MODULE};
      const pool = { allowExitOnIdle: true };
      const split = await connectSplit(process.env.DATABASE_URL, { writer: pool, reader: pool, idleAfterMillis: 0, patroni: { etcd: JSON.parse(process.env.ETCD) } });
      const { rows } = await split.writer.query('SELECT pg_is_in_recovery() AS standby');
      console.log(JSON.stringify({ ...rows[0], watching: split.topology().nodes.some((n) => n.patroni !== null) }));
    `;
      const run = await runScript(script, { DATABASE_URL: cluster.url(), ETCD: JSON.stringify(cluster.etcdOptions()) }, 30_000);
      assert.equal(run.signal, null, `the process did not exit by itself within 30 s: ${run.output}`);
      assert.equal(run.code, 0, run.output);
      assert.deepEqual(firstLine(run), { standby: false, watching: true });
    },
  );

  test('a wrong scope: connectSplit rejects with PGSPLIT_PATRONI_SCOPE, naming the keys it looked under', TIMEOUT, async () => {
    await assert.rejects(
      connectSplit(cluster.url(), { patroni: { etcd: { ...cluster.etcdOptions(), scope: 'no-such-cluster' } } }),
      (err: unknown) =>
        err instanceof PgSplitError && err.code === 'PGSPLIT_PATRONI_SCOPE' && err.message.includes('/pg-split/no-such-cluster/'),
    );
  });
});

describe('etcd with authentication enabled', () => {
  const PASSWORD = 'etcd-secret-Zq7';
  let etcd: Etcd;
  let dir: string;
  before(async () => {
    const host = net.address(70);
    dir = await makeClusterDir();
    await chownToServer(dir);
    etcd = new Etcd(dir, [{ name: 'etcd-auth', host, clientPort: await findFreePort([host]), peerPort: await findFreePort([host]) }]);
    await etcd.start(20_000);
    await etcd.enableAuth(PASSWORD);
  });
  after(async () => {
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const attempt = (credentials: { username?: string; password?: string }): Promise<unknown> =>
    connectSplit(`postgresql://${net.address(71)}/postgres`, {
      patroni: { etcd: { endpoints: etcd.endpoints, scope: 'pg-split', ...credentials } },
      failoverTimeoutMillis: 2000,
    });

  test('a wrong password, or none: PGSPLIT_ETCD_AUTH naming the user, never the password', async () => {
    for (const credentials of [{ username: 'root', password: 'wrong-Zq7' }, {}]) {
      await assert.rejects(attempt(credentials), (err: unknown) => {
        assert.ok(err instanceof PgSplitError, String(err));
        assert.equal(err.code, 'PGSPLIT_ETCD_AUTH', err.message);
        assert.ok(!err.message.includes('Zq7') && !JSON.stringify(err).includes('Zq7'), err.message);
        return true;
      });
    }
  });

  test('the right credentials: etcd is read (here it holds no Patroni cluster: PGSPLIT_PATRONI_SCOPE)', async () => {
    await assert.rejects(
      attempt({ username: 'root', password: PASSWORD }),
      (err: unknown) => err instanceof PgSplitError && err.code === 'PGSPLIT_PATRONI_SCOPE',
    );
  });
});
