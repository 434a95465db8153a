import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { SECURE_PASSWORD, SECURE_ROLE, startBlackHole, startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { connect } from '../../src/connect/connect.js';
import { ConnectError, PgSplitError } from '../../src/errors.js';
import { connectSplit } from '../../src/split/connect-split.js';
import { testNet } from '../support/net.js';
import { until } from '../support/until.js';

const net = testNet(import.meta.url);

const TIMEOUT = { timeout: 120_000 };

/** Failed logins the server itself logged (log_min_messages includes FATAL). */
async function failedLogins(node: ClusterNode, since: number): Promise<number> {
  const log = (await readFile(node.logPath, 'utf8')).slice(since);
  return log.split('\n').filter((line) => line.includes('password authentication failed')).length;
}

async function logSize(node: ClusterNode): Promise<number> {
  return (await readFile(node.logPath, 'utf8')).length;
}

function hostsOf(cluster: Cluster): string {
  return cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

describe('permanent refusals fail fast, with every host named', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ standbys: 1, firstAddress: net.first });
  }, TIMEOUT);
  after(() => cluster.destroy());

  const refusals = [
    {
      what: 'a wrong password',
      info: () => `postgresql://${SECURE_ROLE}:not-the-password@${hostsOf(cluster)}/postgres`,
      sqlstate: '28P01',
    },
    { what: 'a database that does not exist', info: () => `postgresql://postgres@${hostsOf(cluster)}/no_such_database`, sqlstate: '3D000' },
    { what: 'a role that does not exist', info: () => `postgresql://nobody_here@${hostsOf(cluster)}/postgres`, sqlstate: '28000' },
  ];
  for (const refusal of refusals) {
    test(
      `connectSplit with ${refusal.what}: PGSPLIT_CONNECT_FAILED at once, as connect() fails, not after failoverTimeoutMillis`,
      TIMEOUT,
      async () => {
        const started = Date.now();
        const err = await connectSplit(refusal.info()).then(
          () => null,
          (e: unknown) => e,
        );
        const took = Date.now() - started;
        assert.ok(err instanceof ConnectError, `got ${String(err)}`);
        assert.equal(err.code, 'PGSPLIT_CONNECT_FAILED');
        assert.equal(err.attempts.length, cluster.nodes.length, err.message);
        for (const [i, node] of cluster.nodes.entries()) {
          assert.equal(err.attempts[i]?.host, node.host);
          assert.equal(err.attempts[i]?.sqlstate, refusal.sqlstate);
          assert.match(
            err.message,
            new RegExp(`connection to server at "${node.host.replaceAll('.', '\\.')}", port ${node.port} failed: FATAL`),
          );
        }
        assert.ok(!err.message.includes('not-the-password'));
        // The default failoverTimeoutMillis is 30 s; a refusal is reported in the time of one login per host.
        assert.ok(took < 10_000, `took ${took} ms`);
        const libpq = await connect(refusal.info()).then(
          () => null,
          (e: unknown) => e,
        );
        assert.ok(libpq instanceof ConnectError && libpq.attempts[0]?.sqlstate === refusal.sqlstate);
      },
    );
  }

  test('an invalid port on every host is a refusal too, worded as libpq words it', TIMEOUT, async () => {
    const info = `host=${cluster.nodes.map((n) => n.host).join(',')} port=70000 user=postgres`;
    const err = await connectSplit(info).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError, String(err));
    assert.deepEqual(
      err.message.split('\n'),
      cluster.nodes.map(() => 'invalid port number: "70000"'),
    );
  });

  test('a refused login is not repeated at the reconnect pace: the servers log at most 2 failures each in 4 s', TIMEOUT, async () => {
    const sizes = await Promise.all(cluster.nodes.map(logSize));
    const split = await connectSplit(`postgresql://${SECURE_ROLE}:wrong@${hostsOf(cluster)}/postgres`, {
      waitForPrimary: false,
      reconnectMaxDelayMillis: 200,
    });
    try {
      await new Promise((r) => setTimeout(r, 4000));
      const counts = await Promise.all(cluster.nodes.map((n, i) => failedLogins(n, sizes[i] ?? 0)));
      for (const count of counts) assert.ok(count >= 1 && count <= 2, `failed logins per server: ${counts.join(', ')}`);
      const err = await split.writer.query('SELECT 1').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(
        err instanceof PgSplitError && err.code === 'PGSPLIT_CONNECT_FAILED',
        `a checkout fails with the refusal, not a timeout: ${String(err)}`,
      );
    } finally {
      await split.end();
    }
  });

  test('the right password still works on the same cluster', TIMEOUT, async () => {
    const split = await connectSplit(`postgresql://${SECURE_ROLE}:${SECURE_PASSWORD}@${hostsOf(cluster)}/postgres`);
    try {
      const { rows } = await split.writer.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      assert.equal(rows[0]?.standby, false);
    } finally {
      await split.end();
    }
  });
});

describe('a string that never reached a server (issue: 30 silent seconds)', () => {
  // Nothing listens on these: two loopback addresses of this file's own, on a port no test uses.
  const refusing = `postgresql://app@${net.address(40)}:5999,${net.address(41)}:5999/db`;

  test(
    "every host refusing connections: connectSplit fails at once with each host's reason, not after failoverTimeoutMillis",
    TIMEOUT,
    async () => {
      // A minute of failoverTimeoutMillis: PGSPLIT_NO_PRIMARY could only come after it, past this test's timeout.
      const err = await connectSplit(refusing, { failoverTimeoutMillis: 60_000 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, 'PGSPLIT_CONNECT_FAILED');
      const lines = err.message.split('\n');
      for (const address of [net.address(40), net.address(41)]) {
        assert.ok(
          lines.some((l) => l.includes(`"${address}"`) && /Connection refused/.test(l)),
          `no line for ${address}: ${err.message}`,
        );
      }
    },
  );

  test("a name that does not resolve, beside a refusing host: the same, with libpq's wording for each", TIMEOUT, async () => {
    const err = await connectSplit(`postgresql://app@nosuchhost.invalid:5999,${net.address(40)}:5999/db`, {
      failoverTimeoutMillis: 60_000,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError, String(err));
    assert.match(err.message, /could not translate host name "nosuchhost\.invalid" to address/);
    assert.match(err.message, /Connection refused/);
  });

  test(
    "waitForPrimary: 'always' waits for a cluster that is starting: the whole failoverTimeoutMillis, then PGSPLIT_NO_PRIMARY",
    TIMEOUT,
    async () => {
      const err = await connectSplit(refusing, { waitForPrimary: 'always', failoverTimeoutMillis: 1500 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgSplitError, String(err));
      assert.equal(err.code, 'PGSPLIT_NO_PRIMARY');
    },
  );

  test(
    'a cluster that was reached once is waited for: a checkout while every host is down waits, and succeeds when one is back',
    TIMEOUT,
    async () => {
      const own = await startCluster({ standbys: 0, firstAddress: net.address(50) });
      try {
        const split = await connectSplit(own.conninfo(), { failoverTimeoutMillis: 30_000 });
        try {
          await own.primary.stop('fast');
          const write = split.writer.query('SELECT 1 AS one');
          await own.primary.start();
          assert.equal((await write).rows.length, 1);
        } finally {
          await split.end();
        }
      } finally {
        await own.destroy();
      }
    },
  );
});

describe('end()', () => {
  test('rejects a writer checkout waiting for a primary with PGSPLIT_ENDED at once, and leaves no timer or socket', TIMEOUT, async () => {
    // A host that accepts connections and never answers (frozen, or cut off): the checkout waits for it. (One that refuses
    // every connection and was never reached fails a checkout at once, as a pg.Pool's connect would.)
    const hole = await startBlackHole({ host: net.address(60), port: 5999 });
    const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
    const baseline = handles();
    const split = await connectSplit(`host=${hole.host} port=${hole.port} user=postgres connect_timeout=10`, { waitForPrimary: false });
    const waiting = split.writer.query('SELECT 1').then(
      () => null,
      (e: unknown) => e,
    );
    await until('the statement waits for the host', () => split.writer.waitingCount > 0);
    const ending = Date.now();
    await split.end();
    const err = await waiting;
    assert.ok(err instanceof PgSplitError, String(err));
    assert.equal(err.code, 'PGSPLIT_ENDED');
    assert.ok(Date.now() - ending < 1000);
    const late = await split.reader.query('SELECT 1').then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(late instanceof PgSplitError && late.code === 'PGSPLIT_ENDED', String(late));
    // The monitor's connection attempt, which would have waited for connect_timeout (10 s), is abandoned by end(): its
    // socket is destroyed at once and closes (and with it the black hole's end of that connection).
    await until('no timer or socket of pg-split is left', () => handles() === baseline, 1500).catch(() => undefined);
    assert.equal(handles(), baseline, `timers or sockets left: ${process.getActiveResourcesInfo().join(', ')}`);
    await hole.close();
  });
});
