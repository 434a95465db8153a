import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

/**
 * Reads a standby cancels for a conflict with recovery (SQLSTATE 40001,
 * "canceling statement due to conflict with recovery"): a real conflict, a
 * read holding a lock on a table on standbys that cancel at once
 * (max_standby_streaming_delay = 0) while the primary takes an ACCESS
 * EXCLUSIVE lock on it, which the standbys replay. The servers say which
 * standby ran each read.
 */
const net = testNet(import.meta.url);
const TIMEOUT = { timeout: 120_000 };
const LONG_READ = 'SELECT pg_sleep(2), count(*)::int AS n, host(inet_server_addr()) AS host FROM conflict_t';

describe('reads cancelled by a conflict with recovery', TIMEOUT, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ standbys: 2, firstAddress: net.first });
    await cluster.primary.query('CREATE TABLE conflict_t AS SELECT generate_series(1, 100) AS id');
    await cluster.waitForReplication();
    for (const standby of cluster.standbys) {
      await standby.query('ALTER SYSTEM SET max_standby_streaming_delay = 0');
      await standby.query('SELECT pg_reload_conf()');
    }
  });
  after(() => cluster?.destroy());

  /** The standby running the long read, once it runs there (it holds its lock on conflict_t from then on). */
  async function runningOn(): Promise<ClusterNode> {
    let found: ClusterNode | undefined;
    await until('the long read runs on a standby', async () => {
      for (const standby of cluster.standbys) {
        const rows = await standby.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%' AND state = 'active'");
        if (rows.length > 0) found = standby;
      }
      return found !== undefined;
    });
    return found as ClusterNode;
  }

  /** On the primary: an ACCESS EXCLUSIVE lock on conflict_t, taken and released; the standbys replay both. */
  async function conflictingLock(): Promise<void> {
    await cluster.primary.query('BEGIN; LOCK TABLE conflict_t IN ACCESS EXCLUSIVE MODE; COMMIT');
  }

  /** The conflict made under `read` (once it runs on a standby), which a standby cancels with 40001 and nothing runs again. */
  async function cancelledByConflict(read: Promise<unknown>): Promise<void> {
    read.catch(() => undefined); // asserted below, once the conflict is made
    await runningOn();
    await conflictingLock();
    await assert.rejects(read, (err: Error & { code?: string }) => {
      assert.equal(err.code, '40001');
      return true;
    });
  }

  test('beside plain pg.Pool: the conflict is real and fails the read there', async () => {
    const standby = cluster.standbys[0] as ClusterNode;
    const plain = new pg.Pool({ host: standby.host, port: cluster.port, user: 'postgres', database: 'postgres' });
    try {
      await cancelledByConflict(plain.query(LONG_READ));
    } finally {
      await plain.end();
    }
  });

  test('reader.query(): a read a standby cancels runs again on the other standby, and succeeds', async (t) => {
    const sp = await splitFor(t, cluster.conninfo());
    const read = sp.reader.query<{ n: number; host: string }>(LONG_READ);
    const first = await runningOn();
    await conflictingLock();
    const { rows } = await read;
    const other = cluster.standbys.find((s) => s !== first) as ClusterNode;
    assert.deepEqual(rows[0], { pg_sleep: '', n: 100, host: other.host });
  });

  test('inside a transaction (a client of reader.connect()), the cancellation goes to the caller', async (t) => {
    const sp = await splitFor(t, cluster.conninfo());
    const client = await sp.reader.connect();
    try {
      await client.query('BEGIN');
      await cancelledByConflict(client.query(LONG_READ));
    } finally {
      client.release(true);
    }
  });
});
