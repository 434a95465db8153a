import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import type { SplitCluster } from '../../src/split/connect-split.js';
import { until } from '../support/until.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import type { SplitOptions } from '../../src/split/options.js';

const net = testNet(import.meta.url);

const TIMEOUT = { timeout: 180_000 };
const PAIRS = Number(process.env['PGSPLIT_RYW_PAIRS'] ?? 2000);

let cluster: Cluster;
let paused: ClusterNode;
let lagging: ClusterNode;

before(async () => {
  cluster = await startCluster({ standbys: 3, firstAddress: net.first });
  [paused, lagging] = cluster.standbys as [ClusterNode, ClusterNode, ClusterNode];
  await cluster.primary.query('CREATE TABLE rw (id bigint PRIMARY KEY)');
  await cluster.primary.query('CREATE TABLE filler (x text)');
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

function split(t: TestContext, options: SplitOptions = {}): Promise<SplitCluster> {
  return splitFor(t, cluster.conninfo(), { recheckMillis: 200, ...options });
}

async function whereRead(sp: SplitCluster): Promise<string> {
  const { rows } = await sp.reader.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
  return rows[0]?.host ?? '';
}

describe('lag-aware reads (maxReplicaLag)', () => {
  test(
    'a standby past the threshold leaves the rotation, shows so in topology() and events, and comes back after catching up',
    TIMEOUT,
    async (t) => {
      const sp = await split(t, { maxReplicaLag: { bytes: 1_000_000 } });
      const changes: Array<readonly number[]> = [];
      sp.on('change', (e: { current: { readers: readonly number[] } }) => changes.push(e.current.readers));
      await paused.pauseReplay();
      try {
        await cluster.primary.query("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 5000)");
        await until('the paused standby is out of rotation', () => sp.topology().nodes[1]?.lagging === true);
        const node = sp.topology().nodes[1];
        assert.ok((node?.replayLagBytes ?? 0) > 1_000_000 && node?.reader === false, JSON.stringify(node));
        assert.ok(
          changes.some((readers) => !readers.includes(1)),
          'no change event without the lagging standby',
        );
        for (let i = 0; i < 60; i++) assert.notEqual(await whereRead(sp), paused.host, 'a read landed on the lagging standby');
      } finally {
        await paused.resumeReplay();
      }
      await until('the standby is back in rotation', () => sp.topology().nodes[1]?.reader === true && !sp.topology().nodes[1]?.lagging);
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) seen.add(await whereRead(sp));
      assert.ok(seen.has(paused.host), 'the standby did not come back');
    },
  );
});

describe('read-your-writes', () => {
  before(async () => {
    await lagging.query("ALTER SYSTEM SET recovery_min_apply_delay = '150ms'");
    await lagging.query('SELECT pg_reload_conf()');
    await paused.pauseReplay();
  });
  after(async () => {
    await paused.resumeReplay();
    await lagging.query('ALTER SYSTEM RESET recovery_min_apply_delay');
    await lagging.query('SELECT pg_reload_conf()');
  });

  async function writeThenRead(sp: SplitCluster, count: number, firstId: number): Promise<{ stale: number; millis: number }> {
    let stale = 0;
    const started = performance.now();
    for (let id = firstId; id < firstId + count; id++) {
      await sp.writer.query('INSERT INTO rw (id) VALUES ($1)', [id]);
      const { rows } = await sp.reader.query<{ n: string }>('SELECT count(*) AS n FROM rw WHERE id = $1', [id]);
      if (rows[0]?.n !== '1') stale++;
    }
    return { stale, millis: performance.now() - started };
  }

  test(`consistency 'eventual' shows the stale reads (so the next test can fail)`, TIMEOUT, async (t) => {
    const sp = await split(t);
    const { stale } = await writeThenRead(sp, 300, 1_000_000);
    console.log(`# eventual: ${stale} of 300 reads missed the write just made`);
    assert.ok(stale > 50, `only ${stale} stale reads of 300 with a paused and a lagging standby`);
  });

  test(
    `consistency 'session': every read sees the write before it, over ${PAIRS} pairs (one standby paused, one lagging, one current)`,
    TIMEOUT,
    async (t) => {
      const sp = await split(t, { consistency: 'session' });
      const { stale, millis } = await writeThenRead(sp, PAIRS, 1);
      const f = sp.topology().freshness;
      console.log(`# session: ${PAIRS} pairs in ${Math.round(millis)} ms, ${stale} stale; reads: ${JSON.stringify(f)}`);
      assert.equal(stale, 0);
      assert.equal(f.reads, PAIRS);
      assert.ok(f.verified + f.knownCaughtUp > 0, 'no read was served by a standby');
    },
  );

  test('a write token crosses processes: a read elsewhere waits for it; a bad token is a clear error', TIMEOUT, async (t) => {
    const writerSide = await split(t);
    const readerSide = await split(t, { sessionReads: { waitMillis: 2000, fallback: 'error' } });
    for (let id = 2_000_000; id < 2_000_050; id++) {
      await writerSide.writer.query('INSERT INTO rw (id) VALUES ($1)', [id]);
      const token = await writerSide.writeToken();
      const { rows } = await readerSide.after(token, () =>
        readerSide.reader.query<{ n: string }>('SELECT count(*) AS n FROM rw WHERE id = $1', [id]),
      );
      assert.equal(rows[0]?.n, '1');
      const config = { text: 'SELECT count(*) AS n FROM rw WHERE id = $1', values: [id], pgSplit: { after: token } };
      const viaConfig = await readerSide.reader.query<{ n: string }>(config);
      assert.equal(viaConfig.rows[0]?.n, '1');
    }
    assert.throws(
      () => readerSide.after('not-a-token', () => 1),
      (e: { code?: string }) => e.code === 'PGSPLIT_OPTION_INVALID',
    );
  });

  test('onPrimary forces reads to the primary, through query() and connect() alike', TIMEOUT, async (t) => {
    const sp = await split(t);
    await sp.onPrimary(async () => {
      assert.equal(await whereRead(sp), cluster.primary.host);
      const client = await sp.reader.connect();
      try {
        const { rows } = await client.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
        assert.equal(rows[0]?.host, cluster.primary.host);
      } finally {
        client.release();
      }
    });
    assert.notEqual(await whereRead(sp), cluster.primary.host);
  });
});
