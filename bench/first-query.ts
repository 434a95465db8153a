/**
 * Time to the first query when the first host is frozen (SIGSTOP):
 * pg-split connect() (libpq's walk), connectSplit (parallel probing) at
 * start and at its first statement after waking from idle, psql (libpq)
 * and postgres.js, on the same string: the frozen standby, the primary,
 * the other standby.
 */
import { execFile } from 'node:child_process';
import postgres from 'postgres';
import { waitUntil, type Cluster } from '@pg-split/harness';
import { connect } from '../src/connect/connect.js';
import { connectSplit } from '../src/split/connect-split.js';
import { median } from './stats.js';

export interface FirstQueryResult {
  readonly client: string;
  readonly medianMillis: number;
  readonly outcome: string;
}

const RUNS = 5;

/** A client's run: what it does before the clock starts (resolving to the timed part), or the timed part alone. */
type Run = () => Promise<string | (() => Promise<string>)>;

async function timed(run: Run): Promise<{ millis: number; outcome: string }> {
  let started = performance.now();
  let outcome: string;
  try {
    const first = await run();
    if (typeof first === 'function') {
      started = performance.now();
      outcome = await first();
    } else outcome = first;
  } catch (err) {
    outcome = `error: ${(err as { code?: string }).code ?? (err as Error).message.split('\n')[0]}`;
  }
  return { millis: performance.now() - started, outcome };
}

export async function measureFirstQuery(cluster: Cluster): Promise<FirstQueryResult[]> {
  const frozen = cluster.standbys[0]!;
  const hosts = [frozen, cluster.primary, ...cluster.standbys.slice(1)];
  const info = cluster.conninfo(hosts, { connect_timeout: '2' });
  const clients: Record<string, Run> = {
    'pg-split connect()': async () => {
      const c = await connect(info, { env: {} });
      const { rows } = await c.query<{ h: string }>('SELECT host(inet_server_addr()) AS h');
      await c.end();
      return `answered by ${rows[0]?.h}`;
    },
    'pg-split connectSplit() writer': async () => {
      const s = await connectSplit(info, { env: {} });
      const { rows } = await s.writer.query<{ h: string }>('SELECT host(inet_server_addr()) AS h');
      await s.end();
      return `answered by ${rows[0]?.h}`;
    },
    'pg-split connectSplit() writer, first write after waking from idle': async () => {
      const s = await connectSplit(info, { env: {}, idleAfterMillis: 200 });
      await s.writer.query('SELECT 1');
      await waitUntil(() => s.topology().idle, {
        timeoutMillis: 10_000,
        intervalMillis: 20,
        onTimeout: () => new Error('never went idle'),
      });
      return async () => {
        try {
          const { rows } = await s.writer.query<{ h: string }>('SELECT host(inet_server_addr()) AS h');
          return `answered by ${rows[0]?.h}`;
        } finally {
          await s.end();
        }
      };
    },
    'psql (libpq 15)': () =>
      new Promise((resolve, reject) => {
        execFile(
          'psql',
          ['-X', '-w', '-At', '-d', info, '-c', 'SELECT host(inet_server_addr())'],
          { env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent' } },
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(`answered by ${stdout.trim()}`)),
        );
      }),
    'postgres.js 3.4 (target_session_attrs=primary)': async () => {
      const sql = postgres({
        host: hosts.map((h) => h.host),
        port: hosts.map(() => cluster.port),
        user: 'postgres',
        database: 'postgres',
        connect_timeout: 2,
        max: 1,
        target_session_attrs: 'primary',
        onnotice: () => undefined,
      } as unknown as postgres.Options<Record<string, never>>);
      try {
        const rows = await sql`SELECT host(inet_server_addr()) AS h`;
        return `answered by ${(rows[0] as { h: string }).h}`;
      } finally {
        await sql.end({ timeout: 1 }).catch(() => undefined);
      }
    },
  };
  await frozen.freeze();
  try {
    const results: FirstQueryResult[] = [];
    for (const [client, fn] of Object.entries(clients)) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await timed(fn));
      results.push({ client, medianMillis: median(runs.map((r) => r.millis)), outcome: runs[runs.length - 1]?.outcome ?? '' });
    }
    return results;
  } finally {
    await frozen.thaw();
  }
}
