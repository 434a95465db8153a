/**
 * What read-your-writes costs: write-then-read pairs and plain reads, with
 * consistency 'eventual' and 'session', on a primary and three standbys,
 * first all current, then with one standby paused and one lagging 150 ms.
 * Reports per-read latency (p50, p99) and how the fresh reads were served.
 */
import { startCluster, type Cluster } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';
import { percentile } from './stats.js';

const N = Number(process.env['PGSPLIT_BENCH_PAIRS'] ?? 1000);

async function pairs(sp: SplitCluster, firstId: number, withWrite: boolean): Promise<{ p50: number; p99: number; stale: number }> {
  const readMillis: number[] = [];
  let stale = 0;
  for (let id = firstId; id < firstId + N; id++) {
    if (withWrite) await sp.writer.query('INSERT INTO rw (id) VALUES ($1)', [id]);
    const started = performance.now();
    const { rows } = await sp.reader.query<{ n: string }>('SELECT count(*) AS n FROM rw WHERE id = $1', [withWrite ? id : 1]);
    readMillis.push(performance.now() - started);
    if (withWrite && rows[0]?.n !== '1') stale++;
  }
  readMillis.sort((a, b) => a - b);
  return { p50: percentile(readMillis, 0.5), p99: percentile(readMillis, 0.99), stale };
}

/** `loops` concurrent write-then-read loops with consistency 'session': read latency, stale reads, and the round trips fresh reads cost. */
async function concurrentPairs(sp: SplitCluster, firstId: number, loops: number, perLoop: number): Promise<ConcurrentReads> {
  const readMillis: number[] = [];
  let stale = 0;
  const before = sp.topology().freshness;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let k = 0; k < perLoop; k++) {
        const id = firstId + loop * perLoop + k;
        await sp.writer.query('INSERT INTO rw (id) VALUES ($1)', [id]);
        const started = performance.now();
        const { rows } = await sp.reader.query<{ n: string }>('SELECT count(*) AS n FROM rw WHERE id = $1', [id]);
        readMillis.push(performance.now() - started);
        if (rows[0]?.n !== '1') stale++;
      }
    }),
  );
  const after = sp.topology().freshness;
  readMillis.sort((a, b) => a - b);
  const reads = after.reads - before.reads;
  const roundTrips = after.tokenFetches - before.tokenFetches + (after.replayChecks - before.replayChecks);
  return {
    loops,
    reads,
    p50: percentile(readMillis, 0.5),
    p99: percentile(readMillis, 0.99),
    stale,
    extraRoundTripsPerRead: Math.round((roundTrips / reads) * 100) / 100,
  };
}

async function scenario(cluster: Cluster, label: string, firstId: number): Promise<object[]> {
  const rows: object[] = [];
  for (const consistency of ['eventual', 'session'] as const) {
    const sp = await connectSplit(cluster.conninfo(), { consistency });
    const reads = await pairs(sp, firstId, false);
    const afterWrite = await pairs(sp, firstId + (consistency === 'session' ? N : 0) + 10_000_000, true);
    rows.push({ cluster: label, consistency, readOnly: reads, readAfterWrite: afterWrite, served: sp.topology().freshness });
    await sp.end();
    firstId += 2 * N;
  }
  return rows;
}

export interface ConcurrentReads {
  readonly loops: number;
  readonly reads: number;
  readonly p50: number;
  readonly p99: number;
  readonly stale: number;
  readonly extraRoundTripsPerRead: number;
}

export async function measureConsistency(): Promise<{ sequential: object[]; concurrent: ConcurrentReads }> {
  const cluster = await startCluster({ standbys: 3 });
  try {
    await cluster.primary.query('CREATE TABLE rw (id bigint PRIMARY KEY)');
    await cluster.primary.query('INSERT INTO rw VALUES (1)');
    await cluster.waitForReplication();
    const results = await scenario(cluster, 'all standbys current', 100);
    const split = await connectSplit(cluster.conninfo(), { consistency: 'session' });
    const concurrent = await concurrentPairs(split, 50_000_000, 16, Math.ceil(N / 4));
    await split.end();
    const [paused, lagging] = cluster.standbys;
    await paused?.pauseReplay();
    await lagging?.query("ALTER SYSTEM SET recovery_min_apply_delay = '150ms'");
    await lagging?.query('SELECT pg_reload_conf()');
    results.push(...(await scenario(cluster, 'one paused, one lagging 150 ms, one current', 100_000_000)));
    return { sequential: results, concurrent };
  } finally {
    await cluster.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { sequential, concurrent } = await measureConsistency();
  for (const row of sequential) console.log(JSON.stringify(row));
  console.log(JSON.stringify({ concurrent }));
}
