/**
 * Reads that must see a write, through a failover (issue 32 item 3): a
 * primary and two standbys, two write loops and two read loops through one
 * connectSplit with `consistency: 'session'`, then the primary stopped
 * (`fast`), a standby promoted, the other repointed. Counts the reads that
 * failed, run after run: only standbys serve reads, so none should.
 *
 * `npm run bench:session-failover` (PGSPLIT_SESSION_RUNS, default 10).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type ClusterNode } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import { ReadLoad } from '../test/support/read-load.js';
import { WRITES_TABLE, WriteLoad } from '../test/support/write-load.js';

export async function measureSessionFailover(runs: number): Promise<{ runs: number; runsWithFailedReads: number; failedReads: string[] }> {
  const failedReads: string[] = [];
  let runsWithFailedReads = 0;
  for (let run = 0; run < runs; run++) {
    const cluster = await startCluster({ standbys: 2 });
    try {
      await cluster.primary.query(WRITES_TABLE);
      await cluster.waitForReplication();
      const split = await connectSplit(cluster.conninfo(), { consistency: 'session' });
      const writes = new WriteLoad(split.writer, 2, 5);
      const reads = new ReadLoad(split.reader, 2, 5);
      writes.start();
      reads.start();
      await sleep(500);
      const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
      await cluster.primary.stop('fast');
      await s1.promote();
      await s2.follow(s1);
      await sleep(1500);
      await Promise.all([writes.stop(), reads.stop()]);
      await split.end();
      if (reads.failures.length > 0) runsWithFailedReads++;
      failedReads.push(...reads.failures.map((f) => f.code ?? f.message));
    } finally {
      await cluster.destroy();
    }
  }
  return { runs, runsWithFailedReads, failedReads };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureSessionFailover(Number(process.env['PGSPLIT_SESSION_RUNS'] ?? 10));
  console.log(
    `${result.runsWithFailedReads} of ${result.runs} runs had failed reads; ${result.failedReads.length} reads failed${result.failedReads.length > 0 ? `: ${result.failedReads.join(', ')}` : ''}`,
  );
}
