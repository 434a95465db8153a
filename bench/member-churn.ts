/**
 * Members that come and go (option `discovery`, a function source): how soon
 * an added standby serves reads, and what 4 × 1000 add/remove cycles leave
 * behind in the heap (run with --expose-gc), in handles and in sessions on
 * the server. `npm run bench` runs it; alone: `node --expose-gc build/bench/member-churn.js`.
 */
import { startCluster, type ClusterNode } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import { memberCycle } from '../test/support/member-cycle.js';
import { median } from './stats.js';

export interface ChurnResult {
  /** Time from a standby being listed to its first read, ms, per round. */
  readonly joinMillis: readonly number[];
  /** Heap growth after each 1000 cycles against the start, KiB. */
  readonly heapKiB: readonly number[];
  readonly cycleMillis: number;
  readonly handlesBefore: number;
  readonly handlesAfter: number;
  /** pg-split's sessions on the churned standby once it is out. */
  readonly sessionsLeft: number;
}

const APP = 'pg-split-churn';
const settle = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
}

export async function measureMemberChurn(): Promise<ChurnResult> {
  const cluster = await startCluster({ standbys: 2 });
  try {
    const [primary, steady, churned] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    const member = (n: ClusterNode): string => `${n.host}:${n.port}`;
    let listed = false;
    const splitAsking = (intervalMillis: number) =>
      connectSplit(cluster.conninfo([primary, steady], { application_name: APP }), {
        discovery: {
          source: 'function',
          members: () => (listed ? [primary, steady, churned] : [primary, steady]).map(member),
          intervalMillis,
        },
      });
    // How soon a member joins, at a realistic pace of asking.
    const joining = await splitAsking(100);
    const sessionsOn = async (n: ClusterNode): Promise<number> =>
      Number((await n.query<{ c: string }>('SELECT count(*) AS c FROM pg_stat_activity WHERE application_name = $1', [APP]))[0]?.c ?? -1);
    const joinMillis: number[] = [];
    for (let round = 0; round < 10; round++) {
      listed = true;
      const listedAt = Date.now();
      for (;;) {
        const { rows } = await joining.reader.query<{ h: string }>('SELECT host(inet_server_addr()) AS h');
        if (rows[0]?.h === churned.host) break;
      }
      joinMillis.push(Date.now() - listedAt);
      listed = false;
      while (joining.topology().nodes.some((n) => n.host === churned.host)) await settle(20);
    }
    await joining.end();
    // Churn as fast as the source can be asked (every millisecond).
    const split = await splitAsking(1);
    const cycle = memberCycle(split, (named) => (listed = named));
    for (let i = 0; i < 100; i++) await cycle();
    await settle(500);
    collectGarbage();
    const heapStart = process.memoryUsage().heapUsed;
    const handlesBefore = process.getActiveResourcesInfo().length;
    const heapKiB: number[] = [];
    const started = Date.now();
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 1000; i++) await cycle();
      await settle(500);
      collectGarbage();
      heapKiB.push(Math.round((process.memoryUsage().heapUsed - heapStart) / 1024));
    }
    const cycleMillis = Math.round(((Date.now() - started - 4 * 500) / 4000) * 100) / 100;
    const handlesAfter = process.getActiveResourcesInfo().length;
    const sessionsLeft = await sessionsOn(churned);
    await split.end();
    return { joinMillis, heapKiB, cycleMillis, handlesBefore, handlesAfter, sessionsLeft };
  } finally {
    await cluster.destroy();
  }
}

export function churnSummary(r: ChurnResult): string {
  return [
    `- An added standby served its first read a median ${median([...r.joinMillis])} ms after the function listed it (worst ${Math.max(...r.joinMillis)} ms of ${r.joinMillis.length}; \`intervalMillis: 100\`).`,
    `- 4 × 1000 add/remove cycles (${r.cycleMillis} ms each): heap growth against the start, after each 1000: ${r.heapKiB.map((k) => `${k} KiB`).join(', ')}; active handles ${r.handlesBefore} → ${r.handlesAfter}; sessions left on the churned standby: ${r.sessionsLeft}.`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(churnSummary(await measureMemberChurn()));
}
