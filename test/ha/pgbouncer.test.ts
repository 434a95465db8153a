import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import pg from 'pg';
import {
  descendantsOf,
  isProcessAlive,
  startHaproxy,
  startPatroniCluster,
  startPgBouncers,
  type PatroniCluster,
  type PgBouncers,
  type PoolMode,
} from '@pg-split/harness';
import { connect } from '../../src/connect/connect.js';
import { PatroniRun } from '../support/patroni-run.js';
import { psqlChoice } from '../support/psql.js';
import { describeMissing } from '../support/write-load.js';
import { testNet } from '../support/net.js';
import { until } from '../support/until.js';

const net = testNet(import.meta.url);

/**
 * pg-split through a PgBouncer in front of each Patroni member. PgBouncer
 * replays the ParameterStatus values of its first server login to every new
 * client, so `in_hot_standby` can be stale after a failover; connectSplit
 * asks the servers (pg_is_in_recovery()) and must follow switchovers and
 * failovers as it does direct.
 */

const TIMEOUT = { timeout: 240_000 };
const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

describe('through PgBouncer (one per Patroni member)', () => {
  let cluster: PatroniCluster;
  const bouncers = new Map<PoolMode, PgBouncers>();
  let haproxyPid: number | undefined;
  before(async () => {
    cluster = await startPatroniCluster({ members: 3, firstAddress: net.first });
    for (const mode of ['session', 'transaction'] as const) bouncers.set(mode, await startPgBouncers(cluster, mode));
  });
  after(() => cluster.destroy());

  // Patroni over its REST API, or from etcd: there the members' conn_urls name the servers, not the bouncers in front of
  // them (each on its member's host, on its own port), and a host of the string is the only member on its host.
  for (const [mode, patroni] of [
    ['session', 'REST API'],
    ['transaction', 'REST API'],
    ['session', 'etcd'],
    ['transaction', 'etcd'],
  ] as const) {
    test(
      `${mode} pooling, Patroni read from its ${patroni}: a switchover and a crashed leader PostgreSQL; writes follow Patroni's leader, reads stay on standbys, as the servers say`,
      TIMEOUT,
      async (t) => {
        const via = bouncers.get(mode) as PgBouncers;
        const options = patroni === 'etcd' ? { patroni: { etcd: cluster.etcdOptions() } } : { patroni: { port: cluster.apiPort } };
        const run = await PatroniRun.start(t, cluster, options, via.url());
        const first = await cluster.waitUntilSettled();
        await run.underLoad();
        const switched = Date.now();
        await cluster.switchover();
        const second = await cluster.waitUntilSettled({ not: first });
        const settledAt = Date.now();
        await run.writerReaches(second, settledAt);
        const failuresAfterSwitchover = [...run.writes.failures];
        // Reads after a 2 s grace past the settle (a standby being promoted may serve one): 150 of them before the next fault (the assertion below wants more than 100).
        await until(
          '150 reads after the switchover settled',
          () => run.reads.reads.filter((r) => r.at > settledAt + 2000).length > 150,
          30_000,
        );
        const crashed = Date.now();
        await second.kill9Postgres();
        const third = await cluster.waitUntilSettled({ timeoutMillis: 120_000 });
        await run.writerReaches(third, Date.now());
        await run.underLoad();
        const { lost } = await run.finish();
        // PgBouncer does not pass the server's 57P01 on: a statement in flight when the old primary shuts down gets
        // PgBouncer's own `08P01 server conn crashed?`, or its connection closed without an answer. pg-split cannot
        // know such a statement did not commit, so it never repeats it (docs/patroni.md): at most one per writer loop.
        assert.ok(failuresAfterSwitchover.length <= 2, `failed writes at the switchover: ${JSON.stringify(failuresAfterSwitchover)}`);
        assert.ok(
          failuresAfterSwitchover.every((f) => f.code === undefined || f.code === '08P01'),
          `only statements PgBouncer cut fail: ${JSON.stringify(failuresAfterSwitchover)}`,
        );
        assert.ok(run.writes.failures.length <= 4, `failed writes at the crash: ${JSON.stringify(run.writes.failures)}`);
        assert.deepEqual(lost, [], describeMissing(run.writes.acks, lost, { switched, crashed }));
        // While a standby is being promoted it may serve a read or two; once Patroni has settled, reads are on standbys only.
        const settledReads = run.reads.reads.filter((r) => r.at > settledAt + 2000 && r.at < crashed);
        assert.ok(settledReads.length > 100, `${settledReads.length} reads between the switchover and the crash`);
        assert.deepEqual(
          settledReads.filter((r) => !r.standby),
          [],
          'reads went to a primary although standbys were up',
        );
        assert.deepEqual(
          run.reads.failures.filter((f) => f.at < crashed),
          [],
          'reads failed at the switchover',
        );
      },
    );
  }

  test(
    'connect() stays libpq-exact behind PgBouncer: after a switchover it trusts the stale in_hot_standby PgBouncer replays, as psql does',
    TIMEOUT,
    async (t) => {
      const via = bouncers.get('session') as PgBouncers;
      const old = await cluster.waitUntilSettled();
      // Warm the old leader's PgBouncer pool: its cached ParameterStatus says "not in hot standby".
      const warm = await connect(via.url([old]));
      await warm.end();
      await cluster.switchover();
      await cluster.waitUntilSettled({ not: old });
      await waitUntilStandby(old);
      const info = via.url([old], { target_session_attrs: 'read-write' });
      const libpq = await psqlChoice(info);
      const ours = await connect(info).then(
        async (client) => {
          const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
          await client.end();
          return { ok: true as const, standby: rows[0]?.standby === true };
        },
        () => ({ ok: false as const, standby: false }),
      );
      // libpq-exact: connect() decides as psql does, whether or not PgBouncer's replayed in_hot_standby fooled both this time.
      assert.equal(ours.ok, libpq.ok, `psql: ${JSON.stringify(libpq)}`);
      t.diagnostic(
        ours.ok && ours.standby
          ? 'connect() and psql both accepted a standby as read-write (stale in_hot_standby)'
          : 'PgBouncer reported the current role this time',
      );
    },
  );

  test(
    "HAProxy on an address of the file's own (startHaproxy's host): its primary listener reaches Patroni's leader",
    TIMEOUT,
    async (t) => {
      const leader = await cluster.waitUntilSettled();
      const haproxy = await startHaproxy(cluster, { host: net.address(60) });
      haproxyPid = haproxy.daemon.pid;
      assert.equal(haproxy.host, net.address(60));
      // HAProxy starts with every server up and marks one down after `fall 3` failed checks, `inter 3s` apart: until then
      // its primary listener also reaches the replicas. Ask until the leader answers through it, on HAProxy's own address.
      const answered: string[] = [];
      await until(
        "HAProxy's primary listener reaches the leader",
        async () => {
          const client = new pg.Client({ host: haproxy.host, port: haproxy.primaryPort, user: 'postgres', database: 'postgres' });
          client.on('error', () => undefined);
          try {
            await client.connect();
            const { rows } = await client.query<{ addr: string }>('SELECT host(inet_server_addr()) AS addr');
            answered.push(rows[0]?.addr ?? '?');
          } catch {
            // No server up: HAProxy closes the connection.
          } finally {
            await client.end().catch(() => undefined);
          }
          return answered.at(-1) === leader.host;
        },
        20_000,
      );
      t.diagnostic(`answered before the leader: ${answered.slice(0, -1).join(', ') || 'none'}`);
    },
  );

  test('destroy() ends every process the cluster started (Patroni, PostgreSQL, etcd, PgBouncer, HAProxy) and removes its directory', async (t) => {
    const roots = [
      ...cluster.members.flatMap((m) => [m.patroniPid, m.postmasterPid]),
      ...cluster.etcd.members.map((m) => m.daemon.pid),
      ...[...bouncers.values()].flatMap((b) => b.daemons.map((d) => d.pid)),
      haproxyPid,
    ].filter((pid): pid is number => pid !== undefined);
    const pids = roots.flatMap((pid) => [pid, ...descendantsOf(pid)]);
    const started = Date.now();
    await cluster.destroy();
    // Torn down by SIGKILL (nothing is left to hand over): `npm run bench:harness` times it.
    t.diagnostic(`destroy() took ${Date.now() - started} ms for ${pids.length} processes`);
    assert.deepEqual(pids.filter(isProcessAlive), []);
    assert.equal(existsSync(cluster.rootDir), false);
  });
});

async function waitUntilStandby(member: { query: (sql: string) => Promise<Array<{ standby?: boolean }>> }): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const rows = await member.query('SELECT pg_is_in_recovery() AS standby').catch(() => []);
    if (rows[0]?.standby === true) return;
    await sleep(100);
  }
  throw new Error('the old leader never came back as a standby');
}
