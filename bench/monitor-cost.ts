/**
 * What connectSplit's monitoring costs each server while the application is
 * idle, as the servers see it: sessions held (pg_stat_activity) and
 * statements run by them per minute (distinct query_start values of those
 * sessions, sampled every 200 ms; a check runs one statement).
 */
import { startCluster, type ClusterNode } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';

const WINDOW_MILLIS = Number(process.env['PGSPLIT_BENCH_WINDOW'] ?? 30_000);
const APP = 'pgsplit-monitor-cost';

export interface MonitorCost {
  readonly host: string;
  readonly sessions: number;
  readonly statementsPerMinute: number;
}

async function sample(node: ClusterNode): Promise<Array<{ pid: number; started: string }>> {
  return node.query<{ pid: number; started: string }>(
    'SELECT pid, query_start::text AS started FROM pg_stat_activity WHERE application_name = $1',
    [APP],
  );
}

export async function measureMonitorCost(windowMillis = WINDOW_MILLIS): Promise<MonitorCost[]> {
  const cluster = await startCluster({ standbys: 2 });
  try {
    // Never idle: this measures what monitoring costs while the application is active (idle, it costs nothing: bench/fleet.ts).
    const split = await connectSplit(cluster.conninfo(cluster.nodes, { application_name: APP }), { idleAfterMillis: 0 });
    await new Promise((r) => setTimeout(r, 500));
    const seen = cluster.nodes.map(() => new Set<string>());
    const sessions = cluster.nodes.map(() => new Set<number>());
    const end = Date.now() + windowMillis;
    while (Date.now() < end) {
      const rows = await Promise.all(cluster.nodes.map(sample));
      rows.forEach((list, i) => list.forEach((r) => (seen[i]?.add(`${r.pid}@${r.started}`), sessions[i]?.add(r.pid))));
      await new Promise((r) => setTimeout(r, 200));
    }
    await split.end();
    return cluster.nodes.map((n, i) => ({
      host: n.host,
      sessions: sessions[i]?.size ?? 0,
      statementsPerMinute: Math.round(((seen[i]?.size ?? 0) * 60_000) / windowMillis),
    }));
  } finally {
    await cluster.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureMonitorCost(), null, 1));
}
