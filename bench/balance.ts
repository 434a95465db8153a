/**
 * Reads with one slow standby, by balance (issue 33): a primary and three
 * standbys, the third reached through a proxy. Three conditions of the
 * third standby: healthy (the proxy adds nothing), far (the proxy adds
 * latency each way: a far zone, a congested path), and starved of CPU (its
 * server and every session it forks throttled to a few percent of a CPU by
 * a cgroup, as under noisy neighbours; skipped where cgroup v1's cpu
 * controller is not writable). A read-mostly load: N callers each reading
 * in a loop through one connectSplit reader (`max` 10 per node) for a few
 * seconds; the latency of every read, and the share the third standby
 * served (the server says which answered). Beside: HAProxy with `balance
 * leastconn` over the same three standbys (the third through the same
 * proxy) and a plain pg.Pool through it, as a deployment without pg-split
 * reads; and the fastest balance with zones, the application in the zone of
 * the first two standbys, where no read should reach the third.
 *
 * `npm run bench:balance` runs it alone (PGSPLIT_BENCH_BALANCE_SECONDS per
 * run, default 5) and draws docs/balance.svg.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  acceptsConnections,
  chownToServer,
  Daemon,
  findFreePort,
  startCluster,
  startTcpProxy,
  waitUntil,
  type Cluster,
  type ClusterNode,
  type TcpProxy,
} from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import type { SplitOptions } from '../src/split/options.js';
import type { Balance } from '../src/split/pool/balancer.js';
import { balanceChart } from './balance-chart.js';
import { percentile, table } from './stats.js';

const SECONDS = Number(process.env['PGSPLIT_BENCH_BALANCE_SECONDS'] ?? 5);
const DELAY_MILLIS = 20;
/** The starved standby's share of one CPU. */
const CPU_PERCENT = 5;

/** What ails the third standby in a run. */
export type Condition = 'healthy' | 'far' | 'starved';
const CONDITIONS: readonly Condition[] = ['healthy', 'far', 'starved'];
export const CONDITION_NAMES: Readonly<Record<Condition, string>> = {
  healthy: 'healthy',
  far: `+${DELAY_MILLIS} ms each way`,
  starved: `${CPU_PERCENT} % of a CPU`,
};
/** The client whose reads stay in a zone (the first two standbys'): its share of the third is its cross-zone share. */
const ZONED_CLIENT = 'pg-split reader, fastest, zone of standbys 1-2';
const CONCURRENCY = [8, 32] as const;
const BALANCES: readonly Balance[] = ['round-robin', 'least-busy', 'fastest'];
const READ = 'SELECT host(inet_server_addr()) AS host';

export interface BalanceRow {
  readonly client: string;
  readonly condition: Condition;
  readonly concurrency: number;
  readonly reads: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Share of reads the slow (proxied) standby served, percent. */
  readonly slowShare: number;
}

interface Reader {
  query(text: string): Promise<{ rows: Array<{ host: string }> }>;
}

/** `concurrency` loops reading through `reader` for SECONDS: each read's latency and the server that answered. */
async function load(reader: Reader, concurrency: number, slowHost: string): Promise<Omit<BalanceRow, 'client' | 'condition'>> {
  const latencies: number[] = [];
  let slow = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const { rows } = await reader.query(READ);
        latencies.push(performance.now() - started);
        if (rows[0]?.host === slowHost) slow++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    concurrency,
    reads: latencies.length,
    p50: round(percentile(latencies, 0.5)),
    p99: round(percentile(latencies, 0.99)),
    p999: round(percentile(latencies, 0.999)),
    slowShare: Math.round((slow / latencies.length) * 1000) / 10,
  };
}

/** HAProxy in TCP mode, `balance leastconn` over the standbys (the slow one by its proxy), as a read endpoint. */
async function startLeastconn(
  cluster: Cluster,
  standbys: ReadonlyArray<{ host: string; port: number }>,
): Promise<{ host: string; port: number; daemon: Daemon }> {
  const host = '127.0.0.1';
  const port = await findFreePort([host]);
  const config = join(cluster.rootDir, 'haproxy-leastconn.cfg');
  const servers = standbys.map((s, i) => `    server standby${i + 1} ${s.host}:${s.port}`).join('\n');
  await writeFile(
    config,
    [
      'global',
      '    maxconn 1000',
      'defaults',
      '    mode tcp',
      '    timeout connect 4s',
      '    timeout client 30m',
      '    timeout server 30m',
      'listen standbys',
      `    bind ${host}:${port}`,
      '    balance leastconn',
      servers,
      '',
    ].join('\n'),
  );
  await chownToServer(config);
  const daemon = new Daemon({
    name: 'haproxy',
    command: 'haproxy',
    args: ['-db', '-f', config],
    logPath: join(cluster.rootDir, 'haproxy-leastconn.log'),
    home: cluster.rootDir,
  });
  daemon.start();
  await waitUntil(() => acceptsConnections(host, port), {
    timeoutMillis: 10_000,
    intervalMillis: 100,
    onTimeout: () => new Error('haproxy: not listening within 10 s'),
  });
  return { host, port, daemon };
}

/** One pg-split reader's run: a warm-up, then the measured run. */
async function splitRun(
  conninfo: string,
  options: SplitOptions,
  concurrency: number,
  slowHost: string,
): Promise<Omit<BalanceRow, 'client' | 'condition'>> {
  const split = await connectSplit(conninfo, { ...options, reader: { max: 10 } });
  try {
    await waitUntil(() => split.topology().readers.length === 3, {
      timeoutMillis: 10_000,
      onTimeout: () => new Error('not every standby serves reads'),
    });
    await load(split.reader, concurrency, slowHost); // warm: every node's pool open
    return await load(split.reader, concurrency, slowHost);
  } finally {
    await split.end();
  }
}

export async function measureBalance(): Promise<BalanceRow[]> {
  const cluster = await startCluster({ standbys: 3 });
  let proxy: TcpProxy | null = null;
  let haproxy: Daemon | null = null;
  const rows: BalanceRow[] = [];
  try {
    const [s1, s2, s3] = cluster.standbys as [ClusterNode, ClusterNode, ClusterNode];
    proxy = await startTcpProxy({ host: '127.0.0.20', target: { host: s3.host, port: cluster.port } });
    const hosts = [cluster.primary, s1, s2].map((n) => n.host);
    const conninfo = `host=${[...hosts, proxy.host].join(',')} port=${[cluster.port, cluster.port, cluster.port, proxy.port].join(',')} user=postgres dbname=postgres`;
    const zones: SplitOptions = {
      balance: 'fastest',
      zone: 'a',
      hosts: { [s1.host]: { zone: 'a' }, [s2.host]: { zone: 'a' }, [proxy.host]: { zone: 'b' } },
    };
    const leastconn = await startLeastconn(cluster, [
      { host: s1.host, port: cluster.port },
      { host: s2.host, port: cluster.port },
      { host: proxy.host, port: proxy.port },
    ]);
    haproxy = leastconn.daemon;
    for (const condition of CONDITIONS) {
      proxy.setDelay(condition === 'far' ? DELAY_MILLIS : 0);
      let starved: { release(): void } | null = null;
      if (condition === 'starved') {
        try {
          starved = s3.limitCpu(CPU_PERCENT);
        } catch (err) {
          console.log(`balance: no CPU-starved rows (${(err as Error).message})`);
          continue;
        }
      }
      try {
        for (const concurrency of CONCURRENCY) {
          for (const balance of BALANCES)
            rows.push({
              client: `pg-split reader, ${balance}`,
              condition,
              ...(await splitRun(conninfo, { balance }, concurrency, s3.host)),
            });
          rows.push({ client: ZONED_CLIENT, condition, ...(await splitRun(conninfo, zones, concurrency, s3.host)) });
          const pool = new pg.Pool({ host: leastconn.host, port: leastconn.port, user: 'postgres', database: 'postgres', max: 30 });
          try {
            await load(pool, concurrency, s3.host);
            rows.push({ client: 'pg.Pool through HAProxy (leastconn)', condition, ...(await load(pool, concurrency, s3.host)) });
          } finally {
            await pool.end();
          }
          console.log(`balance: ${CONDITION_NAMES[condition]}, ${concurrency} callers done`);
        }
      } finally {
        starved?.release();
      }
    }
  } finally {
    await haproxy?.stop(10_000).catch(() => haproxy?.killSync());
    await proxy?.close();
    await cluster.destroy();
  }
  return rows;
}

export function balanceTable(rows: readonly BalanceRow[]): string {
  return table(
    ['client', 'third standby', 'callers', 'reads', 'p50 ms', 'p99 ms', 'p99.9 ms', 'reads on the third standby'],
    rows.map((r) => [r.client, CONDITION_NAMES[r.condition], r.concurrency, r.reads, r.p50, r.p99, r.p999, `${r.slowShare} %`]),
  );
}

export const BALANCE_TEXT = `\`bench/balance.ts\` (\`npm run bench:balance\`): a primary and three standbys; the third reached through a TCP proxy that adds ${DELAY_MILLIS} ms each way, or nothing (healthy), or nothing while its server and every session it forks run throttled to ${CPU_PERCENT} % of one CPU (a cgroup: the harness's \`limitCpu\`). N callers each reading \`SELECT host(inet_server_addr())\` in a loop for ${SECONDS} s through one connectSplit reader (\`max\` 10 per node), after a warm-up run of the same length; beside them, a plain \`pg.Pool\` (\`max\` 30) through HAProxy with \`balance leastconn\` over the same three standbys (the third through the same proxy); and \`'fastest'\` with zones (\`zone: 'a'\`, the first two standbys in zone a, the third in zone b), whose share of the third standby is its share of reads that left the zone. Latency of every read; the share the third standby served, as the servers say.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await measureBalance();
  await writeFile('docs/balance.svg', balanceChart(rows, CONDITION_NAMES));
  console.log(`${BALANCE_TEXT}\n\n${balanceTable(rows)}\n\nwrote docs/balance.svg`);
}
