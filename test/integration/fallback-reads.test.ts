import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from '@pg-split/harness';
import type { SplitOptions } from '../../src/split/options.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

/**
 * The primary's share of reads when every standby is gone (option
 * `fallbackReads`): a primary whose only standby is stopped serves reads
 * under `prefer-standby`; the primary itself counts the reads running on it.
 */
const net = testNet(import.meta.url);
const READ = "SELECT pg_sleep(0.4), host(inet_server_addr()) AS host, 'fallback-read' AS tag";
const RUNNING =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%''fallback-read''%' AND state = 'active' AND pid <> pg_backend_pid()";
const BURST = 6;

describe('the primary as the fallback reader (fallbackReads)', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let watcher: pg.Client;
  before(async () => {
    cluster = await startCluster({ standbys: 1, firstAddress: net.first });
    await cluster.standbys[0]?.stop('fast');
    watcher = new pg.Client({ host: cluster.primary.host, port: cluster.port, user: 'postgres', database: 'postgres' });
    await watcher.connect();
  });
  after(async () => {
    await watcher?.end();
    await cluster?.destroy();
  });

  /** BURST reads at once through the reader; what each gave, and the most the primary ran at once. */
  async function burst(
    t: Parameters<typeof splitFor>[0],
    options: SplitOptions,
  ): Promise<{ results: PromiseSettledResult<string>[]; peak: number }> {
    const sp = await splitFor(t, cluster.conninfo(), { ...options, reader: { max: 10, ...options.reader } });
    await until('the primary serves reads', () => sp.topology().readers.length === 1 && sp.topology().writer === 0);
    let peak = 0;
    let done = false;
    const watching = (async () => {
      while (!done) {
        const { rows } = await watcher.query<{ n: number }>(RUNNING);
        peak = Math.max(peak, rows[0]?.n ?? 0);
      }
    })();
    const results = await Promise.allSettled(
      Array.from({ length: BURST }, async () => (await sp.reader.query<{ host: string }>(READ)).rows[0]?.host ?? '?'),
    );
    done = true;
    await watching;
    t.diagnostic(`peak ${peak} reads at once on the primary; ${results.filter((r) => r.status === 'fulfilled').length} of ${BURST} served`);
    return { results, peak };
  }

  const codeOf = (r: PromiseSettledResult<string>): string | undefined =>
    r.status === 'rejected' ? (r.reason as { code?: string }).code : undefined;

  test('without a bound, the primary takes every read at once', async (t) => {
    const { results, peak } = await burst(t, {});
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : codeOf(r))),
      Array.from({ length: BURST }, () => cluster.primary.host),
    );
    assert.equal(peak, BURST);
  });

  test('max 2: the primary runs at most 2 reads at once, the others wait their turn and are served', async (t) => {
    const { results, peak } = await burst(t, { fallbackReads: { max: 2 } });
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : codeOf(r))),
      Array.from({ length: BURST }, () => cluster.primary.host),
    );
    assert.equal(peak, 2);
  });

  test("whenFull 'error': reads beyond the bound fail at once with PGSPLIT_FALLBACK_FULL", async (t) => {
    const { results, peak } = await burst(t, { fallbackReads: { max: 2, whenFull: 'error' } });
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map(codeOf),
      Array.from({ length: BURST - 2 }, () => 'PGSPLIT_FALLBACK_FULL'),
    );
    assert.ok(peak <= 2, `peak ${peak}`);
  });

  test("a read waits no longer than the reader's connectionTimeoutMillis", async (t) => {
    const { results } = await burst(t, { fallbackReads: { max: 2 }, reader: { connectionTimeoutMillis: 150 } });
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.equal(codeOf(r), 'PGSPLIT_FALLBACK_FULL');
      assert.match(String(r.reason), /after waiting 150 ms/);
    }
  });

  test('the bound holds only while the primary reads for want of a standby: with the standby back, reads go there', async (t) => {
    const standby = cluster.standbys[0]!;
    await standby.start();
    const sp = await splitFor(t, cluster.conninfo(), { fallbackReads: { max: 1, whenFull: 'error' } });
    await until('the standby serves reads', () => sp.topology().readers.join() === '1');
    const hosts = await Promise.all(
      Array.from({ length: BURST }, async () => (await sp.reader.query<{ host: string }>(READ)).rows[0]?.host),
    );
    assert.deepEqual(new Set(hosts), new Set([standby.host]));
  });
});
