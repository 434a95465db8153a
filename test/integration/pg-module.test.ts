import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import pgSplitPg, { Client, Pool } from '../../src/pg/index.js';
import { sharedRuntimes } from '../../src/pg/shared-runtimes.js';
import { RoutedPool } from '../../src/split/pool/routed-pool.js';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { firstLine, runScript } from '../support/run-script.js';
import { sessionsNamed, waitForNoSessions } from '../support/server-count.js';
import { until } from '../support/until.js';
import { who, type Who } from '../support/who.js';

/**
 * pg-split/pg in place of pg (issue: every Node stack that reaches
 * PostgreSQL through pg): a plain config is pg's own; every Pool and Client
 * naming the same hosts shares one watch and goes where its
 * target_session_attrs says; a Client whose node stops serving it is cut as
 * a server ending its session would (the ORMs' recipes:
 * orm-recipes.test.ts). The servers say who answered.
 */
const net = testNet(import.meta.url);
/** The monitoring sessions' status query: how the servers tell pg-split's own sessions from the pools'. */
const MONITORS = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%AS in_recovery%' AND pid <> pg_backend_pid()";

function urlOf(cluster: Cluster, nodes: readonly ClusterNode[], query: string): string {
  return `postgresql://postgres@${nodes.map((n) => `${n.host}:${cluster.port}`).join(',')}/postgres?${query}`;
}

describe('pg-split/pg', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ standbys: 2, firstAddress: net.first });
    await cluster.primary.query('CREATE TABLE pg_module_writes (id serial PRIMARY KEY, host text NOT NULL, standby boolean NOT NULL)');
    await cluster.waitForReplication();
  });
  after(() => cluster?.destroy());

  test('exports what pg exports, the same objects; ESM and CommonJS alike', async () => {
    const require = createRequire(import.meta.url);
    const pg = require('pg') as Record<string, unknown>;
    for (const name of [
      'types',
      'defaults',
      'Query',
      'DatabaseError',
      'escapeIdentifier',
      'escapeLiteral',
      'Result',
      'TypeOverrides',
      'Connection',
    ])
      assert.equal((pgSplitPg as unknown as Record<string, unknown>)[name], pg[name], name);
    assert.equal(pgSplitPg.native, null);
    assert.ok(!Object.keys(pgSplitPg).includes('native'), 'native is not enumerable, as on pg');
    const cjs = require('pg-split/pg') as Record<string, unknown>;
    assert.equal(typeof cjs['Pool'], 'function');
    assert.equal(cjs['types'], pg['types']);
    // By name, as an application imports it (the package's own dist/, built by npm test).
    const name = 'pg-split/pg';
    const esm = (await import(name)) as Record<string, unknown>;
    assert.equal(typeof esm['Client'], 'function');
  });

  test('a plain config is pg own: a pg.Pool and a pg.Client, no monitoring session, no shared runtime', async () => {
    const app = 'pg-module-plain';
    const url = `postgresql://postgres@${cluster.primary.host}:${cluster.port}/postgres?application_name=${app}`;
    const pool = new Pool({ connectionString: url });
    const client = new Client(url);
    try {
      assert.ok(!(pool instanceof RoutedPool));
      assert.deepEqual(await who(pool), { host: cluster.primary.host, standby: false });
      await client.connect();
      assert.deepEqual(await who(client), { host: cluster.primary.host, standby: false });
      assert.equal(sharedRuntimes(), 0);
      assert.equal(await sessionsNamed(cluster, app), 2, 'the pool connection and the client, nothing else');
      // libpq's error, at once, for a value libpq rejects.
      assert.throws(() => new Pool({ connectionString: 'postgresql://a,b/db?target_session_attrs=bogus' }), {
        name: 'ConnInfoError',
        message: /invalid target_session_attrs value: "bogus"/,
      });
      assert.equal(sharedRuntimes(), 0);
    } finally {
      await Promise.all([pool.end(), client.end()]);
    }
  });

  test('Pools and Clients naming the same hosts share one watch, and each goes where its target_session_attrs says', async () => {
    const app = 'pg-module-shared';
    const hosts = cluster.nodes.map((n) => n.host).join(',');
    const writer = new Pool({ connectionString: urlOf(cluster, cluster.nodes, `target_session_attrs=read-write&application_name=${app}`) });
    const reader = new Pool({
      connectionString: urlOf(cluster, cluster.nodes, `target_session_attrs=prefer-standby&application_name=${app}`),
    });
    // The object form, one port for every host, as Sequelize and knex pass it.
    const rw = new Client({
      host: hosts,
      port: cluster.port,
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'read-write',
      application_name: app,
    });
    const ro = new Client({
      host: hosts,
      port: String(cluster.port),
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'prefer-standby',
    });
    try {
      assert.ok(writer instanceof Pool && reader instanceof Pool);
      assert.deepEqual(await who(writer), { host: cluster.primary.host, standby: false });
      assert.equal((await who(reader)).standby, true);
      await Promise.all([rw.connect(), ro.connect()]);
      assert.deepEqual(await who(rw), { host: cluster.primary.host, standby: false });
      assert.equal((await who(ro)).standby, true);
      assert.equal(sharedRuntimes(), 1, 'two pools and two clients on the same hosts make one runtime');
      // One watch: at most one monitoring session of its own per node. (Its checks may run on an idle pooled connection
      // instead, and then it holds none: pooled-checks.test.ts. The pools' connections, known by their backends' pids, are left out.)
      const pooledPids = await Promise.all(
        [writer, reader].map(async (pool) => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0),
      );
      for (const node of cluster.nodes) {
        const own = (await node.query<{ n: number }>(`${MONITORS} AND NOT (pid = ANY($1))`, [pooledPids]))[0]?.n ?? 0;
        assert.ok(own <= 1, `${node.host}: ${own} monitoring sessions for all four`);
      }
    } finally {
      await Promise.all([writer.end(), reader.end(), rw.end(), ro.end()]);
    }
    assert.equal(sharedRuntimes(), 0, 'the last one ended ends the runtime');
    assert.equal(await waitForNoSessions(cluster, app), 0);
  });

  test("pg's own contract where node-postgres's tests found it broken: a Pool from the environment alone, poolSize, allowExitOnIdle reaching the shared watch, a Client ended while it connects, a pooled client ended instead of released", async () => {
    // In a process of its own, by the package's name, everything from the environment as libpq reads it.
    const script = `
      import pg from 'pg-split/pg';
      process.on('unhandledRejection', (err) => { console.log('unhandled rejection: ' + err.message); process.exit(3); });
      await new pg.Pool().end();
      const pool = new pg.Pool({ poolSize: 1, allowExitOnIdle: true, idleTimeoutMillis: 60000 });
      await Promise.all([pool.query('SELECT pg_sleep(0.1)'), pool.query('SELECT 1')]);
      const { rows } = await pool.query('SELECT pg_is_in_recovery() AS standby');
      const client = new pg.Client();
      client.connect();
      client.end();
      console.log(JSON.stringify({ total: pool.totalCount, standby: rows[0].standby }));
      // No end(): with allowExitOnIdle, neither the pool's idle client nor the shared watch keeps the process alive.
    `;
    const env = {
      PGHOST: cluster.nodes.map((n) => n.host).join(','),
      PGPORT: String(cluster.port),
      PGUSER: 'postgres',
      PGDATABASE: 'postgres',
      PGTARGETSESSIONATTRS: 'read-write',
    };
    const run = await runScript(script, env, 30_000);
    assert.equal(run.signal, null, `the process did not exit by itself within 30 s: ${run.output}`);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(firstLine(run), { total: 1, standby: false }, 'poolSize 1: one connection, on the primary');
    // A client checked out and ended by the application instead of released (node-postgres's gh-issues/787): the process exits, as pg's would, once the pool's idle timeout is up.
    const ended = await runScript(
      `
      import pg from 'pg-split/pg';
      const pool = new pg.Pool({ idleTimeoutMillis: 300 });
      const client = await pool.connect();
      await client.query('SELECT 1');
      await client.end();
      console.log(JSON.stringify({ ended: true }));
    `,
      env,
      30_000,
    );
    assert.equal(ended.signal, null, `the process did not exit by itself within 30 s: ${ended.output}`);
    assert.deepEqual(firstLine(ended), { ended: true });
  });

  test("connect(callback) is called back as pg's: before the client takes queries, so a query made there and an end() after it never reach the server (node-postgres's query-error-handling-prepared-statement)", async () => {
    const plainPg = createRequire(import.meta.url)('pg') as typeof pgSplitPg;
    for (const module of [pgSplitPg, plainPg]) {
      const client = new module.Client(
        module === pgSplitPg
          ? {
              host: cluster.nodes.map((n) => n.host).join(','),
              port: cluster.port,
              user: 'postgres',
              database: 'postgres',
              target_session_attrs: 'read-write',
            }
          : { host: cluster.primary.host, port: cluster.port, user: 'postgres', database: 'postgres' },
      );
      const ended = await new Promise<string | undefined>((resolve) =>
        client.connect(() => {
          client.query({ name: 'sleeping', text: 'SELECT pg_sleep($1)', values: [30] }, (err: Error | undefined) => resolve(err?.message));
          void client.end();
        }),
      );
      assert.equal(ended, 'Connection terminated');
      const sleeping = await cluster.primary.query("SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep($1)'");
      assert.deepEqual(sleeping, [], module === pgSplitPg ? 'pg-split/pg' : 'pg');
    }
  });

  test("an `ssl` object on servers without TLS: the Client fails at once, as pg's does, with libpq's reason for each host (node-postgres's gh-issues/2307)", async () => {
    const hosts = cluster.nodes.map((n) => n.host).join(',');
    const client = new Client({
      host: hosts,
      port: cluster.port,
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'read-write',
      ssl: { ca: 'invalid_value', key: 'invalid_value', cert: 'invalid_value' },
      connectionTimeoutMillis: 30_000,
    });
    const started = Date.now();
    await assert.rejects(client.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PGSPLIT_CONNECT_FAILED', err.message);
      assert.equal(err.message.match(/server does not support SSL, but SSL was required/g)?.length, cluster.nodes.length, err.message);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
    await client.end();
  });

  test('through a failover: a Client on the old primary is cut (error, then end); the Pool and new Clients write on the new primary only', async () => {
    const url = urlOf(cluster, cluster.nodes, 'target_session_attrs=read-write');
    const pool = new Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    const held = new Client(url);
    const seen: string[] = [];
    held.on('error', (err: Error) => seen.push(`error: ${err.message}`));
    held.on('end', () => seen.push('end'));
    await held.connect();
    assert.equal((await who(held)).host, cluster.primary.host);
    const write = async (): Promise<Who> =>
      (
        await pool.query(
          'INSERT INTO pg_module_writes (host, standby) VALUES (host(inet_server_addr()), pg_is_in_recovery()) RETURNING host, standby',
        )
      ).rows[0] as Who;
    assert.equal((await write()).host, cluster.primary.host);
    const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
    const old = cluster.primary;
    await old.stop('fast');
    await s1.promote();
    await s2.follow(s1);
    await until('the held client ended', () => seen.includes('end'), 30_000);
    assert.ok(seen[0]?.startsWith('error: '), `error before end: ${seen.join(' | ')}`);
    for (let i = 0; i < 5; i++) assert.deepEqual(await write(), { host: s1.host, standby: false });
    const fresh = new Client(url);
    await fresh.connect();
    assert.deepEqual(await who(fresh), { host: s1.host, standby: false });
    await Promise.all([fresh.end(), pool.end(), held.end()]);
    const rows = await s1.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_module_writes WHERE standby');
    assert.equal(rows[0]?.n, 0, 'a write was acknowledged by a standby');
    assert.equal(sharedRuntimes(), 0);
  });
});
