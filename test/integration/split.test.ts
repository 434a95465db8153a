import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { SECURE_PASSWORD, SECURE_ROLE, startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import type { SplitCluster } from '../../src/split/connect-split.js';
import type { Topology } from '../../src/split/topology.js';
import type { FailoverEvent, SplitBrainEvent } from '../../src/split/split-events.js';
import { mostAdvanced } from '../support/failover.js';
import { waitForNoSessions } from '../support/server-count.js';
import { describeMissing, missingAcks, WRITES_TABLE, WriteLoad } from '../support/write-load.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

const net = testNet(import.meta.url);

const APP = 'pgsplit-it';

async function whoAnswers(pool: pg.Pool): Promise<{ host: string; standby: boolean }> {
  const { rows } = await pool.query<{ host: string; standby: boolean }>(
    'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby',
  );
  return rows[0] as { host: string; standby: boolean };
}

const TIMEOUT = { timeout: 120_000 };

/** connectSplit, ended when the test ends whatever happens (an open pool would keep the test process alive). */
const split = splitFor;

async function withCluster(
  options: { synchronous?: boolean; maxConnections?: number },
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const cluster = await startCluster({ standbys: 2, firstAddress: net.first, ...options });
  try {
    await cluster.primary.query(WRITES_TABLE);
    await cluster.waitForReplication();
    await body(cluster);
  } finally {
    await cluster.destroy();
  }
}

async function endAndCheckNoLeak(sp: SplitCluster, cluster: Cluster): Promise<void> {
  await sp.end();
  await sp.end();
  assert.equal(await waitForNoSessions(cluster, APP), 0, 'sessions left on the servers after end()');
}

/**
 * Promotes the standby that has received the most WAL (so no acknowledged
 * synchronous commit is lost) and repoints the other one to it.
 */
async function promoteMostAdvanced(standbys: readonly ClusterNode[]): Promise<{ next: ClusterNode; promotedAt: number }> {
  const next = await mostAdvanced(standbys);
  await next.promote();
  const promotedAt = Date.now();
  for (const other of standbys.filter((s) => s !== next)) await other.follow(next);
  return { next, promotedAt };
}

/** Checks every 200 ms with a 30 s check timeout: a check that starts on a frozen host hangs far longer than a failover takes. */
function splitWithHangingChecks(t: TestContext, cluster: Cluster): Promise<SplitCluster> {
  return split(t, cluster.conninfo(cluster.nodes, { application_name: APP }), { recheckMillis: 200, checkTimeoutMillis: 30_000 });
}

/**
 * Freezes the primary and promotes the first standby half a second later (a
 * check of the frozen primary has started and hangs), then waits up to 20 s,
 * well within the 30 s check timeout, for the standby to be the writer: what
 * topology() showed then.
 */
async function promoteWhileFrozen(sp: SplitCluster, cluster: Cluster): Promise<Topology> {
  await cluster.primary.freeze();
  await new Promise((r) => setTimeout(r, 500));
  await (cluster.standbys[0] as ClusterNode).promote();
  await until('the promoted standby is the writer', () => sp.topology().writer === 1, 20_000).catch(() => undefined);
  return sp.topology();
}

/** The promoted standby (host 1) is the writer, and the frozen old primary, whose check has not come back, is ruled out by the newer timeline before any timeout. */
function assertPromotedWhileFrozen(seen: Topology, message: string): void {
  assert.equal(
    seen.writer,
    1,
    `${message}: ${JSON.stringify(seen.nodes.map((n) => [n.host, n.reachable, n.role, n.timeline, n.checkedAt]))}`,
  );
  assert.deepEqual(
    [seen.nodes[0]?.reachable, seen.nodes[0]?.stale],
    [true, true],
    "the frozen primary's check timed out before the promotion was found",
  );
}

async function rowsOn(node: ClusterNode): Promise<Array<{ id: string; server: string }>> {
  return node.query<{ id: string; server: string }>('SELECT id::text, server FROM writes');
}

describe('routing on a healthy cluster', () => {
  test('writer on the primary, reader spread over both standbys (round-robin) and never on the primary', TIMEOUT, async (t) => {
    await withCluster({}, async (cluster) => {
      const handles = (): string[] =>
        process
          .getActiveResourcesInfo()
          .filter((r) => r === 'TCPSocketWrap' || r === 'Timeout')
          .sort();
      const handlesBefore = handles();
      // Round-robin, to show an even spread (the default, 'fastest', spreads by what each standby costs: balance.test.ts).
      const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }), { balance: 'round-robin' });
      assert.ok(sp.writer instanceof pg.Pool && sp.reader instanceof pg.Pool);
      for (let i = 0; i < 10; i++) assert.deepEqual(await whoAnswers(sp.writer), { host: cluster.primary.host, standby: false });
      const seen = new Map<string, number>();
      for (let i = 0; i < 200; i++) {
        const r = await whoAnswers(sp.reader);
        assert.equal(r.standby, true, 'a read landed on the primary while standbys were healthy');
        seen.set(r.host, (seen.get(r.host) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), cluster.standbys.map((s) => s.host).sort());
      for (const n of seen.values()) assert.ok(n >= 50, `uneven spread: ${JSON.stringify([...seen])}`);
      // pg.Pool's events, with pg-pool's arguments, from whichever node served (forwarded once someone listens).
      const events: string[] = [];
      sp.writer.on('acquire', (client) => events.push(`acquire ${typeof client.query}`));
      sp.writer.on('release', (err, client) => events.push(`release ${String(err)} ${typeof client.query}`));
      await sp.writer.query('SELECT 1');
      assert.deepEqual(events, ['acquire function', 'release undefined function']);
      // pg's other forms: values, a callback after the text or after the values, and a config object.
      const viaCallback = (run: (cb: (err: Error | undefined, res: pg.QueryResult) => void) => void): Promise<pg.QueryResult> =>
        new Promise((resolve, reject) => run((err, res) => (err ? reject(err) : resolve(res))));
      const who = 'SELECT host(inet_server_addr()) AS host, $1::int AS n';
      assert.deepEqual((await sp.writer.query(who, [7])).rows, [{ host: cluster.primary.host, n: 7 }]);
      assert.deepEqual((await viaCallback((cb) => sp.writer.query(who, [8], cb))).rows, [{ host: cluster.primary.host, n: 8 }]);
      assert.deepEqual((await viaCallback((cb) => sp.writer.query({ text: who, values: [9] }, cb))).rows, [
        { host: cluster.primary.host, n: 9 },
      ]);
      const read = await viaCallback((cb) => sp.reader.query('SELECT pg_is_in_recovery() AS standby', cb));
      assert.deepEqual(read.rows, [{ standby: true }]);
      const failed = await viaCallback((cb) => sp.reader.query('SELECT 1/0', cb)).catch((err: { code?: string }) => err.code);
      assert.equal(failed, '22012');
      const topology = sp.topology();
      assert.equal(topology.writer, 0);
      assert.deepEqual(topology.readers, [1, 2]);
      assert.ok(!JSON.stringify(topology).includes('password'));
      await endAndCheckNoLeak(sp, cluster);
      assert.deepEqual(handles(), handlesBefore, 'a socket or timer left behind by end()');
    });
  });

  test(
    'a primary whose connections are all taken (53300): the writer waits for one to free, where a plain pg.Pool fails at once',
    TIMEOUT,
    async (t) => {
      await withCluster({ maxConnections: 10 }, async (cluster) => {
        // A role that is no superuser gets max_connections less superuser_reserved_connections (3): 7 sessions.
        const as = { host: cluster.primary.host, port: cluster.port, user: SECURE_ROLE, password: SECURE_PASSWORD, database: 'postgres' };
        const sp = await split(
          t,
          `host=${cluster.nodes.map((n) => n.host).join(',')} port=${cluster.port} user=${SECURE_ROLE} dbname=postgres`,
          { env: { PGPASSWORD: SECURE_PASSWORD } },
        );
        await until('every host checked', () => sp.topology().readers.length === 2);
        // Every other session the role may have on the primary taken by another process's clients.
        const blockers: pg.Client[] = [];
        t.after(() => Promise.all(blockers.map((c) => c.end().catch(() => undefined))));
        for (;;) {
          const client = new pg.Client(as);
          client.on('error', () => undefined);
          const full = await client.connect().then(
            () => false,
            (err: Error & { code?: string }) => err.code === '53300',
          );
          if (full) break;
          blockers.push(client);
        }
        const plain = new pg.Pool(as);
        await assert.rejects(plain.query('SELECT 1'), (err: Error & { code?: string }) => err.code === '53300');
        await plain.end();
        const write = sp.writer.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
        // The fault lasts a second: then another process closes a session.
        await new Promise((r) => setTimeout(r, 1000));
        await blockers.pop()?.end();
        assert.deepEqual((await write).rows, [{ host: cluster.primary.host }]);
        t.diagnostic(`${blockers.length + 1} sessions taken by other clients`);
      });
    },
  );

  test('a standby lost and back: reads go to the other standby, then to both again', TIMEOUT, async (t) => {
    await withCluster({}, async (cluster) => {
      const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }), { recheckMillis: 200 });
      const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
      await s1.stop('fast');
      const during = new Set<string>();
      for (let i = 0; i < 40; i++) during.add((await whoAnswers(sp.reader)).host);
      assert.deepEqual([...during], [s2.host]);
      await s1.start();
      const deadline = Date.now() + 10_000;
      const back = new Set<string>();
      while (back.size < 2 && Date.now() < deadline) back.add((await whoAnswers(sp.reader)).host);
      assert.deepEqual([...back].sort(), [s1.host, s2.host].sort());
      await endAndCheckNoLeak(sp, cluster);
    });
  });

  test('prefer-standby falls back to the primary when no standby is left; standby policy waits and fails clearly', TIMEOUT, async (t) => {
    await withCluster({}, async (cluster) => {
      const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }));
      const strict = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP, target_session_attrs: 'standby' }), {
        failoverTimeoutMillis: 1500,
      });
      for (const s of cluster.standbys) await s.stop('immediate');
      assert.deepEqual(await whoAnswers(sp.reader), { host: cluster.primary.host, standby: false });
      await assert.rejects(strict.reader.query('SELECT 1'), (err: { code?: string }) => err.code === 'PGSPLIT_NO_READER');
      await strict.end();
      await endAndCheckNoLeak(sp, cluster);
    });
  });
});

describe('failover under a continuous write load', () => {
  test(
    'primary stopped, standby promoted: writes resume within 1 s on the new primary, nothing acknowledged is lost; the old primary restarted is never used (split brain)',
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }));
        const failovers: FailoverEvent[] = [];
        const splitBrains: SplitBrainEvent[] = [];
        sp.on('failover', (e) => failovers.push(e)).on('split-brain', (e) => splitBrains.push(e));
        const load = new WriteLoad(sp.writer);
        load.start();
        await load.progressed();
        const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
        await cluster.primary.stop('fast');
        await s1.promote();
        const promotedAt = Date.now();
        const first = await load.firstAckAfter(promotedAt, 10_000);
        await s2.follow(s1);
        await load.progressed();
        await cluster.primary.start();
        // The restarted old primary is checked (and reported) while writes go on.
        await until('the restarted old primary is reported (split-brain)', () => splitBrains.length >= 1, 30_000);
        await load.progressed();
        await load.stop();
        const resumeMillis = first.at - promotedAt;
        console.log(
          `# writes resumed ${resumeMillis} ms after promotion; ${load.acks.length} acknowledged, ${load.failures.length} failed`,
        );
        t.diagnostic(`writes resumed ${resumeMillis} ms after the promotion (npm run bench measures it)`);
        assert.equal(first.server, s1.host);
        assert.deepEqual(await missingAcks(load.acks, await rowsOn(s1)), [], 'acknowledged writes missing on the new primary');
        const afterPromotion = load.acks.filter((a) => a.at > promotedAt);
        assert.ok(
          afterPromotion.length > 50 && afterPromotion.every((a) => a.server === s1.host),
          'a write after the promotion was acknowledged elsewhere',
        );
        assert.ok(
          load.acks.every((a) => a.server === cluster.primary.host || a.server === s1.host),
          'a write was acknowledged by a node that was not the primary',
        );
        assert.equal(failovers.length, 1);
        // Events name the hosts, not only their indexes.
        const [failover] = failovers;
        assert.deepEqual(
          [failover?.from, failover?.to, failover?.host, failover?.port, failover?.previous],
          [0, 1, s1.host, cluster.port, { host: cluster.primary.host, port: cluster.port }],
        );
        assert.ok(
          splitBrains.some((e) => e.staleHosts.some((h) => h.host === cluster.primary.host) && e.host === s1.host),
          JSON.stringify(splitBrains),
        );
        assert.ok(splitBrains.length >= 1, 'the restarted old primary was not reported');
        // No orchestrator here demotes it: the case to page someone for.
        assert.ok(
          splitBrains.every((e) => e.orchestrator === null),
          JSON.stringify(splitBrains),
        );
        const topology = sp.topology();
        assert.equal(topology.writer, 1);
        assert.ok(topology.nodes[0]?.stale);
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test(
    'kill -9 of the primary (synchronous replication): writes resume on the promoted standby with every acknowledged write',
    TIMEOUT,
    async (t) => {
      await withCluster({ synchronous: true }, async (cluster) => {
        const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }));
        const load = new WriteLoad(sp.writer);
        load.start();
        await load.progressed();
        await cluster.primary.kill9();
        const { next, promotedAt } = await promoteMostAdvanced(cluster.standbys);
        await load.firstAckAfter(promotedAt, 10_000);
        await load.progressed();
        await load.stop();
        assert.deepEqual(await missingAcks(load.acks, await rowsOn(next)), []);
        assert.ok(load.acks.filter((a) => a.at > promotedAt).every((a) => a.server === next.host));
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test(
    'a stale primary that answers first at start: no write goes to it before its successor, on a newer timeline, has answered',
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const old = cluster.primary;
        const [next] = cluster.standbys as [ClusterNode, ClusterNode];
        await old.stop('fast');
        await next.promote();
        // The old primary comes back read-write on its old timeline; its successor answers late (frozen, thawed within checkTimeoutMillis).
        await old.start();
        await next.freeze();
        const sp = await split(t, cluster.conninfo([old, next], { application_name: APP }), {
          checkTimeoutMillis: 5000,
          waitForPrimary: false,
        });
        const firstWrite = whoAnswers(sp.writer);
        await new Promise((r) => setTimeout(r, 1000)); // the fault: the successor frozen for a second
        await next.thaw();
        assert.deepEqual(await firstWrite, { host: next.host, standby: false }, 'the first write went to the stale primary');
        assert.deepEqual(
          sp
            .topology()
            .nodes.filter((n) => n.stale)
            .map((n) => n.host),
          [old.host],
        );
        await sp.end();
      });
    },
  );

  test(
    "frozen standbys at start: the first reads wait for the standbys' first checks, go to the one that answers, and to the primary only when none does; the writer waits for every host's first check",
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const [frozen, healthy] = cluster.standbys as [ClusterNode, ClusterNode];
        const info = cluster.conninfo([frozen, healthy, cluster.primary], { application_name: APP });
        await frozen.freeze();
        try {
          // The other standby answers its first check late: frozen while pg-split starts, thawed while a read waits.
          // (waitForPrimary: false, so that connectSplit returns before the first checks: the writer waits for all of them.)
          await healthy.freeze();
          const sp = await split(t, info, { checkTimeoutMillis: 2000, waitForPrimary: false });
          const firstWrite = whoAnswers(sp.writer);
          const warnings: string[] = [];
          const onWarning = (w: Error): void => void warnings.push(w.name);
          process.on('warning', onWarning);
          t.after(() => process.off('warning', onWarning));
          // Reads made meanwhile (more of them than an EventEmitter's default listener limit) all wait.
          const firstReads = Promise.all(Array.from({ length: 20 }, () => whoAnswers(sp.reader)));
          await healthy.thaw();
          for (const read of await firstReads)
            assert.deepEqual(read, { host: healthy.host, standby: true }, 'a first read did not wait for the standby that answered');
          for (let i = 0; i < 20; i++) assert.deepEqual(await whoAnswers(sp.reader), { host: healthy.host, standby: true });
          assert.deepEqual(warnings, [], 'a process warning (MaxListenersExceededWarning) while reads waited');
          assert.deepEqual(
            await firstWrite,
            { host: cluster.primary.host, standby: false },
            'the writer, once the frozen standby timed out',
          );
          await sp.end();
          await healthy.freeze();
          try {
            const none = await split(t, info, { checkTimeoutMillis: 2000 });
            assert.deepEqual(
              await whoAnswers(none.reader),
              { host: cluster.primary.host, standby: false },
              'with every standby frozen, reads fall back to the primary',
            );
            assert.deepEqual(none.topology().readers, [2]);
            await none.end();
          } finally {
            await healthy.thaw();
          }
        } finally {
          await frozen.thaw();
        }
      });
    },
  );

  test(
    'a frozen primary (SIGSTOP): in-flight writes fail instead of hanging, writes move to the promoted standby, and nothing is acknowledged by the old primary after it thaws',
    TIMEOUT,
    async (t) => {
      await withCluster({ synchronous: true }, async (cluster) => {
        const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }));
        const load = new WriteLoad(sp.writer);
        load.start();
        await load.progressed();
        await cluster.primary.freeze();
        const frozenAt = Date.now();
        // The fault: the primary stays frozen for 2.5 s before a standby is promoted.
        await new Promise((r) => setTimeout(r, 2500));
        const { next, promotedAt } = await promoteMostAdvanced(cluster.standbys);
        await load.firstAckAfter(promotedAt, 10_000);
        await cluster.primary.thaw();
        // The thawed old primary answers its next check read-write on the old timeline: ruled out as stale.
        await until('the thawed old primary is known stale', () => sp.topology().nodes[0]?.stale === true, 30_000);
        await load.progressed();
        await load.stop();
        const missing = await missingAcks(load.acks, await rowsOn(next));
        assert.deepEqual(missing, [], describeMissing(load.acks, missing, { frozen: frozenAt, promoted: promotedAt }));
        // A write sent after the freeze can only be acknowledged by the new primary. (An acknowledgement
        // the old primary sent just before SIGSTOP may be processed after freeze() resolved: not a fault.)
        const late = load.acks.filter((a) => a.sentAt > frozenAt && a.server !== next.host);
        assert.deepEqual(late, [], 'the old primary acknowledged a write sent after it froze');
        assert.ok(sp.topology().nodes[0]?.stale);
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test(
    "a promotion is seen while the frozen old primary's check still hangs: the old primary is stale, not merely down (found by the chaos test)",
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const sp = await splitWithHangingChecks(t, cluster);
        // Reads on both standbys (none may be stuck on the primary when it freezes): their sessions carry the promotion report.
        await until('both standbys serve reads', () => sp.topology().readers.join() === '1,2');
        let reading = true;
        const reads = (async () => {
          while (reading) await sp.reader.query('SELECT 1').catch(() => undefined);
        })();
        const seen = await promoteWhileFrozen(sp, cluster);
        reading = false;
        await reads;
        assertPromotedWhileFrozen(seen, 'the promoted standby did not become the writer while the old primary was frozen');
        await cluster.primary.thaw();
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test(
    "a frozen host delays no other host's checks: with no statement running, the promoted standby's own checks find it while the frozen old primary's check hangs",
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const sp = await splitWithHangingChecks(t, cluster);
        await until('every host checked', () => sp.topology().readers.join() === '1,2', 20_000);
        try {
          // No statement runs: nothing but the checks can see the promotion.
          const seen = await promoteWhileFrozen(sp, cluster);
          assertPromotedWhileFrozen(seen, "the promoted standby was not found while the old primary's check hung");
          const { rows } = await sp.writer.query<{ host: string; standby: boolean }>(
            'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby',
          );
          assert.deepEqual(rows[0], { host: cluster.standbys[0]?.host, standby: false });
        } finally {
          await cluster.primary.thaw();
        }
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test(
    'an application that only writes: a primary frozen for a second and thawed after a standby took over gets no write sent after the promotion (its stalled writes make pg-split check every host; found by the chaos test)',
    TIMEOUT,
    async (t) => {
      await withCluster({}, async (cluster) => {
        const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
        // One standby: the other would stream the thawed old primary's writes and could not follow the new one.
        await s2.stop('fast');
        const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }));
        const load = new WriteLoad(sp.writer);
        load.start();
        try {
          await load.progressed();
          // The fault: the primary frozen for a second (less than a check's timeout), the standby promoted meanwhile.
          const frozenAt = Date.now();
          await cluster.primary.freeze();
          await s1.promote();
          const promotedAt = Date.now();
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - frozenAt))));
          await cluster.primary.thaw();
          await load.firstAckAfter(promotedAt, 10_000);
          await load.progressed();
          const late = load.acks.filter((a) => a.server === cluster.primary.host && a.sentAt > promotedAt);
          t.diagnostic(
            `promoted ${promotedAt - frozenAt} ms after the freeze; ${load.acks.filter((a) => a.server === s1.host).length} writes on the new primary`,
          );
          assert.deepEqual(late, [], 'writes sent after the promotion were acknowledged by the thawed old primary');
        } finally {
          await load.stop();
        }
        await endAndCheckNoLeak(sp, cluster);
      });
    },
  );

  test('all nodes down then back: queries wait and then succeed', TIMEOUT, async (t) => {
    await withCluster({}, async (cluster) => {
      const sp = await split(t, cluster.conninfo(cluster.nodes, { application_name: APP }), { failoverTimeoutMillis: 20_000 });
      for (const node of cluster.nodes) await node.stop('fast');
      const write = sp.writer.query<{ id: string }>("INSERT INTO writes (id, server) VALUES (-1, 'outage') RETURNING id");
      const read = sp.reader.query('SELECT pg_is_in_recovery() AS standby');
      // The fault: every node down for a second while the statements wait.
      await new Promise((r) => setTimeout(r, 1000));
      for (const node of cluster.nodes) await node.start();
      const [w, r] = await Promise.all([write, read]);
      assert.equal(Number(w.rows[0]?.id), -1);
      assert.equal(r.rows.length, 1);
      await endAndCheckNoLeak(sp, cluster);
    });
  });
});
