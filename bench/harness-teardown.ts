/**
 * How long the harness takes to start and to tear down each kind of cluster
 * (npm run bench:harness, and a section of npm run bench). A test file pays
 * both; a Patroni cluster's destroy() used to stop Patroni gracefully (its
 * PostgreSQL's shutdown checkpoint, its WAL senders) and now SIGKILLs what
 * nothing will use again.
 */
import { startCluster, startHaproxy, startPatroniCluster, startPgBouncers } from '@pg-split/harness';
import { median, table } from './stats.js';

export interface HarnessTiming {
  readonly kind: string;
  readonly startMillis: number[];
  readonly destroyMillis: number[];
}

interface Harness {
  destroy(): Promise<void>;
}

const KINDS: ReadonlyArray<readonly [string, () => Promise<Harness>]> = [
  ['startCluster: a primary and 2 standbys', () => startCluster({ standbys: 2 })],
  ['startPatroniCluster: 3 members on 1 etcd', () => startPatroniCluster({ members: 3 })],
  [
    'startPatroniCluster, with HAProxy and a PgBouncer per member',
    async () => {
      const cluster = await startPatroniCluster({ members: 3 });
      await startHaproxy(cluster);
      await startPgBouncers(cluster, 'transaction');
      return cluster;
    },
  ],
  [
    "startPatroniCluster, its leader's whole tree frozen (SIGSTOP) before destroy()",
    async () => {
      const cluster = await startPatroniCluster({ members: 3 });
      await (await cluster.waitUntilSettled()).freeze('tree');
      return cluster;
    },
  ],
];

export async function measureHarness(runs = 3): Promise<HarnessTiming[]> {
  const results: HarnessTiming[] = [];
  for (const [kind, start] of KINDS) {
    const timing: HarnessTiming = { kind, startMillis: [], destroyMillis: [] };
    for (let i = 0; i < runs; i++) {
      const started = Date.now();
      const harness = await start();
      timing.startMillis.push(Date.now() - started);
      const destroying = Date.now();
      await harness.destroy();
      timing.destroyMillis.push(Date.now() - destroying);
    }
    results.push(timing);
  }
  return results;
}

export function harnessTable(results: readonly HarnessTiming[]): string {
  return table(
    ['harness', 'start, median ms', 'destroy(), median / worst ms'],
    results.map((r) => [r.kind, median(r.startMillis), `${median(r.destroyMillis)} / ${Math.max(...r.destroyMillis)}`]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(harnessTable(await measureHarness()));
}
