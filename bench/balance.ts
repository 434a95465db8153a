/**
 * Reads with one slow standby, by balance (issue 33): a primary and three
 * standbys, the third reached through a proxy that adds latency each way
 * (a far zone, a congested path), or none (the healthy run, through the same
 * proxy). A read-mostly load: N callers each reading in a loop through one
 * connectSplit reader (`max` 10 per node) for a few seconds; the latency of
 * every read, and the share the slow standby served (the server says which
 * answered). Beside: HAProxy with `balance leastconn` over the same three
 * standbys (the slow one through the same proxy) and a plain pg.Pool
 * through it, as a deployment without pg-split reads.
 *
 * `npm run bench:balance` runs it alone (PGSPLIT_BENCH_BALANCE_SECONDS per
 * run, default 5).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { startCluster, startTcpProxy, Daemon, type Cluster, type ClusterNode, type TcpProxy } from '../src/cluster/index.js';
import { findFreePort, acceptsConnections } from '../src/cluster/addresses.js';
import { chownToServer } from '../src/cluster/run-as.js';
import { waitUntil } from '../src/cluster/wait.js';
import { connectSplit } from '../src/split/connect-split.js';
import type { Balance } from '../src/split/pool/balancer.js';
import { percentile, table } from './stats.js';

const SECONDS = Number(process.env['PGSPLIT_BENCH_BALANCE_SECONDS'] ?? 5);
const DELAY_MILLIS = 20;
const CONCURRENCY = [8, 32] as const;
const BALANCES: readonly Balance[] = ['round-robin', 'least-busy', 'fastest'];
const READ = 'SELECT host(inet_server_addr()) AS host';

export interface BalanceRow {
  readonly client: string;
  readonly slowStandby: boolean;
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
async function load(reader: Reader, concurrency: number, slowHost: string): Promise<Omit<BalanceRow, 'client' | 'slowStandby'>> {
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
    const leastconn = await startLeastconn(cluster, [
      { host: s1.host, port: cluster.port },
      { host: s2.host, port: cluster.port },
      { host: proxy.host, port: proxy.port },
    ]);
    haproxy = leastconn.daemon;
    for (const slowStandby of [false, true]) {
      proxy.setDelay(slowStandby ? DELAY_MILLIS : 0);
      for (const concurrency of CONCURRENCY) {
        for (const balance of BALANCES) {
          const split = await connectSplit(conninfo, { balance, reader: { max: 10 } });
          try {
            await waitUntil(() => split.topology().readers.length === 3, {
              timeoutMillis: 10_000,
              onTimeout: () => new Error('not every standby serves reads'),
            });
            await load(split.reader, concurrency, s3.host); // warm: every node's pool open
            rows.push({ client: `pg-split reader, ${balance}`, slowStandby, ...(await load(split.reader, concurrency, s3.host)) });
          } finally {
            await split.end();
          }
        }
        const pool = new pg.Pool({ host: leastconn.host, port: leastconn.port, user: 'postgres', database: 'postgres', max: 30 });
        try {
          await load(pool, concurrency, s3.host);
          rows.push({ client: 'pg.Pool through HAProxy (leastconn)', slowStandby, ...(await load(pool, concurrency, s3.host)) });
        } finally {
          await pool.end();
        }
        console.log(`balance: ${slowStandby ? 'slow' : 'healthy'} standby, ${concurrency} callers done`);
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
    rows.map((r) => [
      r.client,
      r.slowStandby ? `+${DELAY_MILLIS} ms each way` : 'healthy',
      r.concurrency,
      r.reads,
      r.p50,
      r.p99,
      r.p999,
      `${r.slowShare} %`,
    ]),
  );
}

export const BALANCE_TEXT = `\`bench/balance.ts\` (\`npm run bench:balance\`): a primary and three standbys; the third reached through a TCP proxy that adds ${DELAY_MILLIS} ms each way, or nothing (healthy). N callers each reading \`SELECT host(inet_server_addr())\` in a loop for ${SECONDS} s through one connectSplit reader (\`max\` 10 per node), after a warm-up run of the same length; beside them, a plain \`pg.Pool\` (\`max\` 30) through HAProxy with \`balance leastconn\` over the same three standbys (the third through the same proxy). Latency of every read; the share the third standby served, as the servers say.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await measureBalance();
  console.log(`${BALANCE_TEXT}\n\n${balanceTable(rows)}`);
}
