import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  cpuCgroupOf,
  descendantsOf,
  isProcessAlive,
  readPidFile,
  SECURE_PASSWORD,
  SECURE_ROLE,
  settlesWithin,
  startBlackHole,
  startCluster,
  waitUntil,
  type Cluster,
  type ClusterNode,
} from '@pg-split/harness';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

const CLUSTER_MODULE = import.meta.resolve('@pg-split/harness');

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMillis = 10_000): Promise<void> {
  await waitUntil(check, { timeoutMillis, onTimeout: (last) => new Error(`timed out waiting for ${what}`, { cause: last }) });
}

async function one<T extends pg.QueryResultRow>(node: ClusterNode, sql: string, params: unknown[] = []): Promise<T> {
  const [row] = await node.query<T>(sql, params);
  assert.ok(row, `${sql} returned no row on ${node.name}`);
  return row;
}

async function ids(node: ClusterNode): Promise<number[]> {
  const rows = await node.query<{ id: number }>('SELECT id FROM harness_rows ORDER BY id');
  return rows.map((row) => row.id);
}

async function streamingTo(primary: ClusterNode): Promise<string[]> {
  const rows = await primary.query<{ name: string }>(
    "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
  );
  return rows.map((row) => row.name);
}

/** A node's postmaster and every child of it. */
function processTree(node: ClusterNode): number[] {
  assert.ok(node.pid !== undefined, `${node.name} is not running`);
  return [node.pid, ...descendantsOf(node.pid)];
}

/**
 * Connects over TCP, sends a protocol 3.0 startup packet, and reports whether
 * the connect succeeded and how many bytes came back: stops at the first
 * answer, or after `waitMillis` of silence.
 */
async function rawStartup(host: string, port: number, waitMillis: number): Promise<{ connected: boolean; received: number }> {
  const body = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const seen = { connected: false, received: 0 };
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(seen);
    };
    const timer = setTimeout(done, waitMillis);
    socket.on('connect', () => {
      seen.connected = true;
      socket.write(Buffer.concat([head, body]));
    });
    socket.on('data', (chunk) => {
      seen.received += chunk.length;
      done();
    });
    socket.on('error', done);
  });
}

async function connectFailure(config: pg.ClientConfig): Promise<Error & { code?: string }> {
  const client = new pg.Client({ ssl: false, database: 'postgres', ...config });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    return err as Error & { code?: string };
  }
  await client.end();
  return assert.fail(`connected to ${config.host ?? '?'} as ${config.user ?? '?'}`);
}

async function withClient<T>(config: pg.ClientConfig, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ssl: false, database: 'postgres', ...config });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe('cluster harness: primary + 2 standbys', () => {
  let cluster: Cluster;
  let startupMillis = 0;

  before(async () => {
    const started = Date.now();
    cluster = await startCluster({ standbys: 2, firstAddress: net.first });
    startupMillis = Date.now() - started;
  });

  after(async () => {
    await cluster.destroy();
  });

  test('every node answers on its own address, in the role it was started in', async (t) => {
    t.diagnostic(`startCluster({ standbys: 2, firstAddress: net.first }) took ${startupMillis} ms`);
    assert.deepEqual(
      cluster.nodes.map((node) => [node.name, node.host]),
      [
        ['primary', net.address(2)],
        ['standby1', net.address(3)],
        ['standby2', net.address(4)],
      ],
    );
    assert.deepEqual(cluster.standbys, cluster.nodes.slice(1));
    for (const node of cluster.nodes) {
      const row = await one<{ addr: string; port: number; standby: boolean }>(
        node,
        'SELECT host(inet_server_addr()) AS addr, inet_server_port() AS port, pg_is_in_recovery() AS standby',
      );
      assert.deepEqual(row, { addr: node.host, port: cluster.port, standby: node !== cluster.primary });
      assert.equal(await node.timeline(), 1);
    }
    assert.deepEqual(await streamingTo(cluster.primary), ['standby1', 'standby2']);
  });

  test('conninfo() and url() list the chosen nodes in order, on the shared port', async () => {
    const [standby1, standby2] = cluster.standbys;
    assert.ok(standby1 && standby2);
    const port = cluster.port;
    assert.equal(
      cluster.conninfo(),
      `host=${net.address(2)},${net.address(3)},${net.address(4)} port=${port} user=postgres dbname=postgres`,
    );
    assert.equal(
      cluster.conninfo([standby2, cluster.primary], { target_session_attrs: 'read-write', application_name: 'a b' }),
      `host=${net.address(4)},${net.address(2)} port=${port} user=postgres dbname=postgres target_session_attrs=read-write application_name='a b'`,
    );
    assert.equal(
      cluster.url(),
      `postgresql://postgres@${net.address(2)}:${port},${net.address(3)}:${port},${net.address(4)}:${port}/postgres`,
    );
    assert.equal(
      cluster.url([standby1], { target_session_attrs: 'read-only', application_name: 'a b' }),
      `postgresql://postgres@${net.address(3)}:${port}/postgres?target_session_attrs=read-only&application_name=a%20b`,
    );
    const addr = await withClient({ connectionString: cluster.url([standby2]) }, async (client) => {
      const result = await client.query<{ addr: string }>('SELECT host(inet_server_addr()) AS addr');
      return result.rows[0]?.addr;
    });
    assert.equal(addr, standby2.host);
  });

  test(`${SECURE_ROLE} must authenticate with its scram-sha-256 password, postgres is trusted`, async () => {
    const { host, port } = cluster.primary;
    const wrong = await connectFailure({ host, port, user: SECURE_ROLE, password: 'not-it' });
    assert.equal(wrong.code, '28P01');
    const user = await withClient({ host, port, user: SECURE_ROLE, password: SECURE_PASSWORD }, async (client) => {
      return (await client.query<{ user: string }>('SELECT current_user AS user')).rows[0]?.user;
    });
    assert.equal(user, SECURE_ROLE);
    const row = await one<{ scram: boolean }>(
      cluster.primary,
      "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = $1",
      [SECURE_ROLE],
    );
    assert.equal(row.scram, true);
  });

  test('a row inserted on the primary appears on both standbys', async () => {
    await cluster.primary.query('CREATE TABLE harness_rows (id int PRIMARY KEY)');
    await cluster.primary.query('INSERT INTO harness_rows VALUES (1)');
    await cluster.waitForReplication();
    for (const standby of cluster.standbys) assert.deepEqual(await ids(standby), [1]);
  });

  test('pauseReplay() holds a standby back until resumeReplay()', async () => {
    const [standby1, standby2] = cluster.standbys;
    assert.ok(standby1 && standby2);
    await standby1.pauseReplay();
    assert.equal((await one<{ state: string }>(standby1, 'SELECT pg_get_wal_replay_pause_state() AS state')).state, 'paused');
    await cluster.primary.query('INSERT INTO harness_rows VALUES (2)');
    await eventually('row 2 on standby2', async () => (await ids(standby2)).includes(2));
    assert.deepEqual(await ids(standby1), [1]);
    await standby1.resumeReplay();
    await cluster.waitForReplication();
    assert.deepEqual(await ids(standby1), [1, 2]);
  });

  test('stop() refuses connections, start() brings the standby back streaming', async () => {
    const standby2 = cluster.standbys[1];
    assert.ok(standby2);
    await standby2.stop('fast');
    assert.equal(standby2.isRunning(), false);
    assert.equal((await connectFailure({ host: standby2.host, port: standby2.port, user: 'postgres' })).code, 'ECONNREFUSED');
    await standby2.start();
    assert.equal(await standby2.inRecovery(), true);
    await eventually('standby2 streaming again', async () => (await streamingTo(cluster.primary)).includes('standby2'));
  });

  test('kill9() takes the postmaster and every child down; start() recovers from the crash', async () => {
    const standby1 = cluster.standbys[0];
    assert.ok(standby1);
    const pids = processTree(standby1);
    assert.ok(pids.length >= 4, `expected postmaster + children, got ${pids.join(' ')}`);
    await standby1.kill9();
    assert.deepEqual(pids.filter(isProcessAlive), []);
    assert.ok(readPidFile(standby1.dataDir), 'a crashed server leaves its postmaster.pid behind');
    await standby1.start();
    await cluster.primary.query('INSERT INTO harness_rows VALUES (3)');
    await cluster.waitForReplication();
    assert.deepEqual(await ids(standby1), [1, 2, 3]);
  });

  test('freeze() makes a node accept TCP and never answer; thaw() makes it answer again', async () => {
    const standby2 = cluster.standbys[1];
    assert.ok(standby2);
    await standby2.freeze();
    assert.deepEqual(await rawStartup(standby2.host, standby2.port, 400), { connected: true, received: 0 });
    const started = Date.now();
    const err = await connectFailure({ host: standby2.host, port: standby2.port, user: 'postgres', connectionTimeoutMillis: 500 });
    assert.match(err.message, /timeout/i);
    assert.ok(Date.now() - started >= 450);
    await standby2.thaw();
    assert.ok((await rawStartup(standby2.host, standby2.port, 5000)).received > 0);
    assert.equal(await standby2.inRecovery(), true);
  });

  test('stop() of a frozen node thaws it first', async () => {
    const standby2 = cluster.standbys[1];
    assert.ok(standby2);
    await standby2.freeze();
    await standby2.stop('fast');
    assert.equal(standby2.isRunning(), false);
    await standby2.start();
    await cluster.waitForReplication();
  });

  test('limitCpu() runs the server and the sessions it forks in a throttled cgroup; release() moves them back', async (t) => {
    const standby2 = cluster.standbys[1];
    assert.ok(standby2);
    let limit: { release(): void };
    try {
      limit = standby2.limitCpu(10);
    } catch (err) {
      t.skip(`no writable cgroup v1 cpu controller here: ${(err as Error).message}`);
      return;
    }
    const client = new pg.Client({ host: standby2.host, port: standby2.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      // A session opened after the limit: its backend, forked by the postmaster, is in the group too.
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
      const group = cpuCgroupOf(pid);
      assert.match(group, new RegExp(`/pg-split-${standby2.name}-${standby2.pid}$`));
      assert.equal(readFileSync(`/sys/fs/cgroup/cpu${group}/cpu.cfs_quota_us`, 'utf8').trim(), '10000', '10 % of a 100 ms period');
      assert.equal(cpuCgroupOf(standby2.pid ?? 0), group);
      limit.release();
      assert.notEqual(cpuCgroupOf(pid), group, 'the session is back where it was');
      assert.equal(existsSync(`/sys/fs/cgroup/cpu${group}`), false, 'the group is removed');
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }
  });

  test('a black hole accepts TCP and never sends a byte', async () => {
    const hole = await startBlackHole({ host: net.address(9) });
    try {
      assert.deepEqual(await rawStartup(hole.host, hole.port, 300), { connected: true, received: 0 });
      const err = await connectFailure({ host: hole.host, port: hole.port, user: 'postgres', connectionTimeoutMillis: 300 });
      assert.match(err.message, /timeout/i);
      assert.equal(hole.accepted, 2);
    } finally {
      await hole.close();
    }
    assert.equal((await connectFailure({ host: hole.host, port: hole.port, user: 'postgres' })).code, 'ECONNREFUSED');
  });

  test('promote() turns a standby into a read-write primary on a new timeline', async () => {
    const standby1 = cluster.standbys[0];
    assert.ok(standby1);
    await cluster.waitForReplication();
    await cluster.primary.kill9();
    await standby1.promote();
    assert.equal(cluster.currentPrimary, standby1);
    assert.equal(await standby1.inRecovery(), false);
    await standby1.query('INSERT INTO harness_rows VALUES (4)');
    assert.deepEqual(await ids(standby1), [1, 2, 3, 4]);
    assert.equal(await standby1.timeline(), 2);
  });

  test('follow() makes the other standby stream from the new primary', async () => {
    const [standby1, standby2] = cluster.standbys;
    assert.ok(standby1 && standby2);
    await standby2.follow(standby1);
    assert.deepEqual(await streamingTo(standby1), ['standby2']);
    const receiver = await one<{ host: string }>(standby2, 'SELECT sender_host AS host FROM pg_stat_wal_receiver');
    assert.equal(receiver.host, standby1.host);
    await cluster.waitForReplication();
    assert.deepEqual(await ids(standby2), [1, 2, 3, 4]);
    assert.equal(await standby2.timeline(), 2);
  });

  test('rebuildAsStandbyOf() brings the old primary back as a standby', async () => {
    const standby1 = cluster.standbys[0];
    assert.ok(standby1);
    await cluster.primary.rebuildAsStandbyOf(standby1);
    assert.equal(await cluster.primary.inRecovery(), true);
    assert.deepEqual(await streamingTo(standby1), ['primary', 'standby2']);
    await standby1.query('INSERT INTO harness_rows VALUES (5)');
    await cluster.waitForReplication();
    assert.deepEqual(await ids(cluster.primary), [1, 2, 3, 4, 5]);
    assert.equal(await cluster.primary.timeline(), 2);
  });

  test('destroy() leaves no process, no directory and no shared memory; a second call is a no-op', async () => {
    const pids = cluster.nodes.flatMap(processTree);
    const segments = cluster.nodes.map((node) => readPidFile(node.dataDir)?.shmId);
    await cluster.destroy();
    assert.deepEqual(pids.filter(isProcessAlive), []);
    assert.equal(existsSync(cluster.rootDir), false);
    const listed = execFileSync('ipcs', ['-m'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim().split(/\s+/)[1]));
    assert.deepEqual(
      segments.filter((id) => id !== undefined && listed.includes(id)),
      [],
    );
    await cluster.destroy();
  });
});

describe('cluster harness: synchronous replication', () => {
  test('commits wait for the standby', async () => {
    const cluster = await startCluster({ standbys: 1, synchronous: true, firstAddress: net.address(12) });
    try {
      const standby = cluster.standbys[0];
      assert.ok(standby);
      for (const node of cluster.nodes) {
        assert.equal(
          (await one<{ synchronous_standby_names: string }>(node, 'SHOW synchronous_standby_names')).synchronous_standby_names,
          'ANY 1 (*)',
        );
      }
      const states = await cluster.primary.query('SELECT application_name, sync_state FROM pg_stat_replication');
      assert.deepEqual(states, [{ application_name: 'standby1', sync_state: 'quorum' }]);
      await cluster.primary.query('CREATE TABLE sync_rows (id int)');
      await standby.freeze();
      const commit = cluster.primary.query('INSERT INTO sync_rows VALUES (1)');
      assert.equal(await settlesWithin(commit, 700), false, 'a commit returned while the only standby was frozen');
      await standby.thaw();
      await commit;
      assert.deepEqual(await standby.query('SELECT id FROM sync_rows'), [{ id: 1 }]);
    } finally {
      await cluster.destroy();
    }
  });
});

describe('cluster harness: options', () => {
  test('maxConnections sets max_connections on every node (standbys copy it); a bad value is refused before anything starts', async () => {
    for (const bad of [0, 9, 10.5, Number.NaN, 20_000]) {
      await assert.rejects(startCluster({ standbys: 1, maxConnections: bad, firstAddress: net.address(32) }), {
        code: 'PGSPLIT_CLUSTER',
        message: `maxConnections must be an integer from 10 to 10000, not ${String(bad)}`,
      });
    }
    const cluster = await startCluster({ standbys: 1, maxConnections: 50, firstAddress: net.address(32) });
    try {
      for (const node of cluster.nodes) {
        assert.equal((await one<{ max_connections: string }>(node, 'SHOW max_connections')).max_connections, '50', node.name);
      }
    } finally {
      await cluster.destroy();
    }
  });
});

/** Starts a cluster in a child process that then dies `how`; returns what it reported and how it ended. */
async function clusterInDyingProcess(how: 'throw' | 'SIGTERM'): Promise<{ rootDir: string; pids: number[]; ended: string }> {
  const script = `
    const [moduleUrl, how] = process.argv.slice(1);
    const { descendantsOf, startCluster } = await import(moduleUrl);
    const cluster = await startCluster({ standbys: 1, firstAddress: '${net.address(22)}' });
    const pids = cluster.nodes.flatMap((node) => [node.pid, ...descendantsOf(node.pid)]);
    process.stdout.write(JSON.stringify({ rootDir: cluster.rootDir, pids }) + '\\n');
    if (how === 'throw') throw new Error('the test process crashed');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, CLUSTER_MODULE, how], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (how === 'SIGTERM' && output.includes('\n')) child.kill('SIGTERM');
  });
  const ended = await new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => resolve(signal ?? `code ${code ?? '?'}`));
  });
  const report = JSON.parse(output.split('\n')[0] ?? '') as { rootDir: string; pids: number[] };
  return { ...report, ended };
}

describe('cluster harness: a process that dies leaves nothing running', () => {
  for (const how of ['throw', 'SIGTERM'] as const) {
    test(`cleanup when the process ends by ${how === 'throw' ? 'an uncaught exception' : 'SIGTERM'}`, async () => {
      const { rootDir, pids, ended } = await clusterInDyingProcess(how);
      assert.equal(ended, how === 'throw' ? 'code 1' : 'SIGTERM');
      assert.ok(pids.length >= 8, `expected two process trees, got ${pids.join(' ')}`);
      await eventually('the servers to be gone', () => !pids.some(isProcessAlive), 3000);
      assert.equal(existsSync(rootDir), false);
    });
  }
});
