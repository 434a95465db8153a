import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { buildConnInfo, startBlackHole, startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../../src/split/connect-split.js';
import { testNet } from '../support/net.js';
import { firstLine, runScript, SPLIT_MODULE } from '../support/run-script.js';
import { sessionsNamed } from '../support/server-count.js';
import { until } from '../support/until.js';

/**
 * An idle connectSplit holds nothing: no session on any server, no timer or
 * socket that keeps its process alive; and its next statement routes as if
 * it had never slept, a failover made meanwhile included (the issue: a
 * thousand idle pods must cost the servers nothing).
 */
const net = testNet(import.meta.url);
const APP = 'pgsplit-idle';
const INSTANCES = 20;
const IDLE_MILLIS = 3000;
const WHO = 'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  await cluster.primary.query('CREATE TABLE idle_writes (id serial PRIMARY KEY, host text NOT NULL)');
  await cluster.waitForReplication();
});

after(() => cluster?.destroy());

async function who(pool: pg.Pool): Promise<{ host: string; standby: boolean }> {
  const { rows } = await pool.query<{ host: string; standby: boolean }>(WHO);
  return rows[0] as { host: string; standby: boolean };
}

async function write(split: SplitCluster): Promise<string> {
  const { rows } = await split.writer.query<{ host: string }>(
    'INSERT INTO idle_writes (host) VALUES (host(inet_server_addr())) RETURNING host',
  );
  return rows[0]?.host ?? '';
}

test(
  'a silent host costs no wait at start nor at wake when the hosts that answered name the writer; with no such evidence it is waited for',
  { timeout: 120_000 },
  async () => {
    // A host that accepts the connection and never answers (a frozen VM, dropped packets): its check hangs for checkTimeoutMillis.
    const hole = await startBlackHole({ host: net.address(40), port: cluster.port });
    const silent = { host: hole.host, port: hole.port };
    const stillUnchecked = (split: SplitCluster, i: number): boolean => split.topology().nodes[i]?.error === 'not checked yet';
    const splits: SplitCluster[] = [];
    try {
      for (const [hosts, silentAt] of [
        [[...cluster.nodes, silent], 3],
        [[silent, ...cluster.nodes], 0],
      ] as const) {
        const split = await connectSplit(buildConnInfo(hosts, cluster.port, { application_name: APP }), {
          idleAfterMillis: 500,
          checkTimeoutMillis: 100_000,
        });
        splits.push(split);
        assert.ok(stillUnchecked(split, silentAt), 'connectSplit waited for the silent host');
        assert.equal(await write(split), cluster.primary.host);
        assert.equal((await who(split.reader)).standby, true);
        assert.ok(stillUnchecked(split, silentAt), 'the first statements waited for the silent host');
        for (let sleep = 0; sleep < 2; sleep++) {
          await until('it sleeps', () => asleep(split), 10_000);
          assert.equal(await write(split), cluster.primary.host);
          assert.equal((await who(split.reader)).standby, true);
          assert.ok(stillUnchecked(split, silentAt), 'the first write after waking waited for the silent host');
        }
      }
      // Two hosts, no standby to vouch for the primary: the silent one may be a newer primary, so it is waited for.
      const split = await connectSplit(buildConnInfo([silent, cluster.primary], cluster.port, { application_name: APP }), {
        checkTimeoutMillis: 1500,
      });
      splits.push(split);
      const hidden = split.topology().nodes[0];
      assert.equal(hidden?.reachable, false);
      assert.notEqual(hidden?.error, 'not checked yet', 'a writer was chosen before the silent host had failed its check');
      assert.equal(await write(split), cluster.primary.host);
    } finally {
      await Promise.all(splits.map((s) => s.end()));
      await hole.close();
    }
  },
);

describe('an idle cluster', { timeout: 180_000 }, () => {
  const splits: SplitCluster[] = [];
  after(() => Promise.all(splits.map((s) => s.end())));

  test(`${INSTANCES} instances: 0 sessions on every node once idle; after a failover made while they slept, every write on the new primary and no read on the old one`, async (t) => {
    for (let i = 0; i < INSTANCES; i++) {
      const split = await connectSplit(cluster.conninfo(cluster.nodes, { application_name: APP }), { idleAfterMillis: IDLE_MILLIS });
      splits.push(split);
      assert.equal(await write(split), cluster.primary.host);
      assert.equal((await who(split.reader)).standby, true);
      if (i === 0) assert.ok((await sessionsNamed(cluster, APP)) >= 3, 'an active instance holds a monitoring session per node');
    }
    await until('no session of pg-split on any node', async () => (await sessionsNamed(cluster, APP)) === 0, 30_000);

    // A failover while every instance sleeps, and the old primary back on its old timeline (a split brain).
    const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
    await cluster.primary.stop('fast');
    await s1.promote();
    await s2.follow(s1);
    await cluster.primary.start();
    assert.equal(await cluster.primary.inRecovery(), false, 'the old primary is back read-write: a stale primary');

    const wakes: number[] = [];
    for (const split of splits) {
      const started = Date.now();
      assert.equal(await write(split), s1.host, 'a write after the idle failover went elsewhere than the new primary');
      wakes.push(Date.now() - started);
      const read = await who(split.reader);
      assert.notEqual(read.host, cluster.primary.host, 'a read went to the stale old primary');
      assert.equal(read.standby, true);
      // The write may be decided before the old primary's first check came back (the standby streaming on the
      // new primary's timeline vouches for it), so its verdict is waited for, not read at once.
      await until('the old primary is known stale', () => split.topology().nodes[0]?.stale === true, 10_000);
    }
    wakes.sort((a, b) => a - b);
    t.diagnostic(`first write after waking: median ${wakes[wakes.length >> 1]} ms, worst ${wakes.at(-1)} ms (timings: npm run bench)`);
  });

  test('an instance that slept wakes for writeToken(), connect() and a callback query alike', async () => {
    // The cluster as the failover above left it, without the stale old primary: a new instance that starts while a
    // stale primary runs can take it for the writer until the others' first checks arrive (a start-up rule, not this test's).
    const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
    const split = await connectSplit(cluster.conninfo([s1, s2], { application_name: APP }), { idleAfterMillis: 300 });
    splits.push(split);
    await who(split.writer);
    await until('it sleeps', () => split.topology().nodes.every((n) => n.openConnections === 0) && asleep(split), 10_000);
    assert.match(await split.writeToken(), /^[0-9A-F]+\/[0-9A-F]+$/);
    await until('it sleeps again', () => asleep(split), 10_000);
    const client = await split.writer.connect();
    assert.equal((await client.query<{ standby: boolean }>(WHO)).rows[0]?.standby, false);
    client.release();
    await until('it sleeps again', () => asleep(split), 10_000);
    const viaCallback = await new Promise<boolean>((resolve, reject) =>
      split.reader.query(WHO, (err: Error | undefined, res: pg.QueryResult<{ standby: boolean }>) =>
        err ? reject(err) : resolve(res.rows[0]?.standby === true),
      ),
    );
    assert.equal(viaCallback, true);
  });
});

/** Whether the cluster sleeps, as topology() says. */
function asleep(split: SplitCluster): boolean {
  return split.topology().idle;
}

test('a process whose cluster went idle exits by itself: no timer or socket keeps it alive', { timeout: 60_000 }, async () => {
  const script = `
    import { connectSplit } from ${SPLIT_MODULE};
    const split = await connectSplit(process.env.DATABASE_URL, { idleAfterMillis: 500 });
    const { rows } = await split.reader.query('SELECT pg_is_in_recovery() AS standby');
    await split.writer.query('SELECT 1');
    console.log(JSON.stringify({ standby: rows[0].standby, at: Date.now() }));
    // No end(): once idle, nothing may keep the process alive.
  `;
  const run = await runScript(script, { DATABASE_URL: cluster.url(cluster.nodes, { application_name: `${APP}-exit` }) }, 30_000);
  assert.equal(run.signal, null, `the process did not exit by itself within 30 s: ${run.output}`);
  assert.equal(run.code, 0, run.output);
  assert.equal((firstLine(run) as { standby?: boolean }).standby, true, run.output);
  assert.equal(await sessionsNamed(cluster, `${APP}-exit`), 0);
});

test(
  "a script that never calls end() exits when a pg.Pool's would: once its pools closed their idle clients (idleTimeoutMillis), however far idleAfterMillis is",
  { timeout: 90_000 },
  async () => {
    const script = (open: string): string => `
      import pg from 'pg';
      import { connectSplit } from ${SPLIT_MODULE};
      const pools = ${open};
      const { rows } = await pools.reader.query('SELECT pg_is_in_recovery() AS standby');
      await pools.writer.query('SELECT 1');
      console.log(JSON.stringify({ standby: rows[0].standby }));
      // No end(): the pools close their idle clients after 500 ms, and then nothing may keep the process alive.
    `;
    const pool = '{ idleTimeoutMillis: 500 }';
    const plain = `{ writer: new pg.Pool({ connectionString: process.env.PRIMARY_URL, ...${pool} }), reader: new pg.Pool({ connectionString: process.env.STANDBY_URL, ...${pool} }) }`;
    const split = `await connectSplit(process.env.DATABASE_URL, { writer: ${pool}, reader: ${pool}, idleAfterMillis: 600000 })`;
    // The earlier tests moved the roles around: each node is asked what it is now.
    const running = cluster.nodes.filter((n) => n.isRunning());
    const inRecovery = await Promise.all(running.map((n) => n.inRecovery()));
    const primary = running.find((_, i) => inRecovery[i] === false);
    const standby = running.find((_, i) => inRecovery[i] === true);
    assert.ok(primary !== undefined && standby !== undefined);
    const env = {
      DATABASE_URL: cluster.url(cluster.nodes, { application_name: `${APP}-exit-pools` }),
      PRIMARY_URL: cluster.url([primary]),
      STANDBY_URL: cluster.url([standby]),
    };
    for (const [name, open] of [
      ['two plain pg.Pools', plain],
      ['connectSplit', split],
    ] as const) {
      const run = await runScript(script(open), env, 30_000);
      assert.equal(run.signal, null, `${name}: the process did not exit by itself within 30 s: ${run.output}`);
      assert.equal(run.code, 0, `${name}: ${run.output}`);
      assert.equal((firstLine(run) as { standby?: boolean }).standby, true, `${name}: ${run.output}`);
    }
    assert.equal(await sessionsNamed(cluster, `${APP}-exit-pools`), 0);
  },
);
