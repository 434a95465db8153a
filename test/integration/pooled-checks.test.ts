import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

/**
 * Checks on the application's own connections (issue 32 item 2): while a
 * pool holds an idle connection to a host, the host's checks run on it and
 * the monitor's own session closes, so an active instance holds on each node
 * what its pools hold (at least one session), not one more. The servers
 * count the sessions; faults are real (a stopped primary, a frozen standby).
 */
const net = testNet(import.meta.url);
const APP = 'pgsplit-pooled-checks';
const WHO = 'SELECT host(inet_server_addr()) AS host';
/** A role that may hold two sessions on each server. */
const LIMITED = 'pooled_checks_limited';

/** Sessions of the application on one node, as the server counts them. */
async function sessionsOn(node: ClusterNode): Promise<number> {
  const rows = await node.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [APP]);
  return Number(rows[0]?.n ?? 0);
}

describe('checks on pooled connections', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  });
  after(() => cluster?.destroy());

  test("the monitor's first session closes once the first statement on its host ended, without waiting for a timed check", async (t) => {
    const sp = await splitFor(t, cluster.conninfo(cluster.nodes, { application_name: APP }), {
      recheckMillis: 60_000,
      writer: { idleTimeoutMillis: 60_000 },
      idleAfterMillis: 0,
      pooledChecks: true,
    });
    const [primary, s1, s2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    assert.deepEqual(await Promise.all([primary, s1, s2].map(sessionsOn)), [1, 1, 1], 'one monitoring session per node');
    await sp.writer.query('SELECT 1');
    // Timed checks are a minute apart: only the statement's end can have moved the primary's checks to the pooled connection.
    // The pooled connection stays open (idleTimeoutMillis a minute): one session on the primary is that one, the monitor's gone.
    await until('the primary holds only the pooled connection', async () => (await sessionsOn(primary)) === 1, 5000);
    assert.equal(sp.topology().nodes[0]?.openConnections, 1, 'the pooled connection is open');
    assert.deepEqual(await Promise.all([s1, s2].map(sessionsOn)), [1, 1], 'standbys the pools never used keep the monitoring session');
  });

  test('a host whose pooled connections are all busy and answering opens no session for its checks: a full primary stays the writer', async (t) => {
    const primary = cluster.primary;
    await primary.query(`CREATE ROLE ${LIMITED} LOGIN CONNECTION LIMIT 2`);
    t.after(() => primary.query(`DROP ROLE ${LIMITED}`));
    const sp = await splitFor(t, cluster.conninfo(cluster.nodes, { application_name: APP, user: LIMITED }), {
      recheckMillis: 100,
      failoverTimeoutMillis: 3000,
      writer: { max: 1, idleTimeoutMillis: 60_000 },
      idleAfterMillis: 0,
      pooledChecks: true,
    });
    await sp.writer.query('SELECT 1');
    await until('the primary holds only the pooled connection', async () => (await sessionsOn(primary)) === 1);
    // Another process takes the role's other session on the primary: a new session there is refused (53300).
    const other = new pg.Client({ host: primary.host, port: cluster.port, user: LIMITED, database: 'postgres' });
    await other.connect();
    t.after(() => other.end());
    const logFrom = (await readFile(primary.logPath, 'utf8')).length;
    // Two callers on the writer's one connection: one always waits, so no check finds it idle, and statements keep ending.
    let written = 0;
    const failures: string[] = [];
    const until2s = Date.now() + 2000;
    const writes = async (): Promise<void> => {
      while (Date.now() < until2s) {
        await sp.writer.query('SELECT pg_sleep(0.01)').then(
          () => void written++,
          (err: Error & { code?: string }) => void failures.push(err.code ?? err.message),
        );
      }
    };
    await Promise.all([writes(), writes()]);
    assert.deepEqual(failures, [], 'no write failed');
    assert.ok(written > 0);
    assert.equal(sp.topology().writer, 0, 'the primary stayed the writer');
    // The server's word: no login of the role was refused while the checks came due (about 20 of them).
    const refused = (await readFile(primary.logPath, 'utf8')).slice(logFrom).match(/too many connections for role/g) ?? [];
    assert.equal(refused.length, 0, `${refused.length} sessions refused`);
    t.diagnostic(`${written} writes in 2 s on one pooled connection`);
  });

  test('an active instance holds on each node what its pools hold, not one session more; failover and a frozen standby are still seen', async (t) => {
    const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
    const sp = await splitFor(t, cluster.conninfo(cluster.nodes, { application_name: APP, connect_timeout: '1' }), {
      recheckMillis: 100,
      balance: 'round-robin',
      writer: { idleTimeoutMillis: 60_000 },
      reader: { max: 1, idleTimeoutMillis: 60_000 },
      idleAfterMillis: 0,
      pooledChecks: true,
    });
    // One connection in each pool's node pool: the writer's on the primary, the reader's on each standby (reads until each
    // standby has had one: which standby two reads at once go to is the balance's business, not this test's).
    await sp.writer.query('SELECT 1');
    const pooled = (): number[] => sp.topology().nodes.map((n) => n.openConnections);
    await until('a pooled connection on each node', async () => {
      await Promise.all([sp.reader.query(WHO), sp.reader.query(WHO)]);
      return pooled().every((n) => n === 1);
    });
    assert.deepEqual(pooled(), [1, 1, 1]);
    // Before the hand-over each node has the monitor's session besides the pooled one; after it, the pooled one only.
    await until('each node holds only the pooled connection', async () => {
      const counts = await Promise.all(cluster.nodes.map(sessionsOn));
      return counts.join() === '1,1,1';
    });
    // Still followed: the standbys' checks on pooled connections see the primary's replacement.
    await cluster.primary.stop('fast');
    await s1.promote();
    await s2.follow(s1);
    await until('the promoted standby is the writer', () => sp.topology().writer === 1);
    const { rows } = await sp.writer.query<{ host: string }>(WHO);
    assert.equal(rows[0]?.host, s1.host);
    // A frozen host whose only checks run on a pooled connection: the check times out (connect_timeout 1 s), it leaves the readers.
    await until('reads on both live nodes', async () => {
      await Promise.all([sp.reader.query(WHO), sp.reader.query(WHO)]);
      return sp.topology().readers.includes(2);
    });
    await s2.freeze();
    try {
      await until('the frozen standby is found down', () => sp.topology().nodes[2]?.reachable === false, 10_000);
      for (let i = 0; i < 10; i++) assert.notEqual((await sp.reader.query<{ host: string }>(WHO)).rows[0]?.host, s2.host);
    } finally {
      await s2.thaw();
    }
  });

  test("a promotion that the promoted node's busy pooled connections report is checked on the server, not vouched for by their answers", async (t) => {
    // After the test above: s1 (the first standby) is the primary, s2 streams from it.
    const [, s1, s2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    const sp = await splitFor(t, cluster.conninfo([s1, s2], { application_name: APP }), {
      recheckMillis: 60_000,
      reader: { max: 1, idleTimeoutMillis: 60_000 },
      idleAfterMillis: 0,
      pooledChecks: true,
    });
    assert.equal((await sp.writer.query<{ host: string }>(WHO)).rows[0]?.host, s1.host);
    assert.equal((await sp.reader.query<{ host: string }>(WHO)).rows[0]?.host, s2.host);
    await until('the standby holds only the pooled connection', async () => (await sessionsOn(s2)) === 1);
    // Two callers on the reader's one connection to s2: never idle, always answering.
    let reading = true;
    const reads = async (): Promise<void> => {
      while (reading) await sp.reader.query('SELECT pg_sleep(0.01)').catch(() => undefined);
    };
    const readers = [reads(), reads()];
    try {
      await s1.stop('fast');
      await s2.promote();
      // Timed checks are a minute apart: only the role s2's pooled connection reports, checked on the server, names it.
      await until('the promoted node is the writer', () => sp.topology().writer === 1, 15_000);
    } finally {
      reading = false;
      await Promise.all(readers);
    }
    const { rows } = await sp.writer.query<{ host: string }>(WHO);
    assert.equal(rows[0]?.host, s2.host);
  });
});
