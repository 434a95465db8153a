/**
 * Routing cost: the same query load through connectSplit's writer and
 * reader and through a plain pg.Pool on the same node, plus pgbench (libpq)
 * for scale: simple and prepared statements, concurrency 1, 8 and 64.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Cluster } from '../src/cluster/index.js';
import { connectSplit } from '../src/split/connect-split.js';
import { percentile } from './stats.js';

export interface LoadResult {
  readonly target: string;
  readonly mode: 'simple' | 'prepared';
  readonly concurrency: number;
  readonly qps: number;
  readonly p50: number;
  readonly p99: number;
}

const DURATION = Number(process.env['PGSPLIT_BENCH_SECONDS'] ?? 3) * 1000;

async function drive(pool: pg.Pool, mode: 'simple' | 'prepared', concurrency: number): Promise<Omit<LoadResult, 'target'>> {
  const query = mode === 'simple' ? { text: 'SELECT 1 AS x' } : { name: 'bench_one', text: 'SELECT $1::int AS x', values: [1] };
  for (let i = 0; i < concurrency * 2; i++) await pool.query(query);
  const latencies: number[] = [];
  const end = Date.now() + DURATION;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const started = performance.now();
      await pool.query(query);
      latencies.push(performance.now() - started);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { mode, concurrency, qps: Math.round(latencies.length / (DURATION / 1000)), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function pgbench(cluster: Cluster, mode: 'simple' | 'prepared', concurrency: number, binDir: string): LoadResult {
  const script = join(cluster.rootDir, 'select1.sql');
  writeFileSync(script, 'SELECT 1 AS x;\n');
  const out = execFileSync(join(binDir, 'pgbench'), ['-h', cluster.primary.host, '-p', String(cluster.port), '-U', 'postgres', '-n', '-c', String(concurrency), '-j', '2', '-T', String(DURATION / 1000), '-M', mode, '-f', script, '-r', 'postgres'], { encoding: 'utf8' });
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? 0);
  return { target: 'pgbench (libpq)', mode, concurrency, qps: Math.round(tps), p50: latency, p99: Number.NaN };
}

type Target = 'pg.Pool on the primary' | 'pg-split writer' | 'pg.Pool on the standby' | 'pg-split reader';

/** One pool alive at a time, so that 64 connections per pool stay under the servers' max_connections. */
async function withPool<T>(cluster: Cluster, target: Target, max: number, use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  if (target.startsWith('pg.Pool')) {
    const host = target === 'pg.Pool on the primary' ? cluster.primary.host : cluster.standbys[0]!.host;
    const pool = new pg.Pool({ host, port: cluster.port, user: 'postgres', database: 'postgres', max });
    pool.on('error', () => undefined);
    try {
      return await use(pool);
    } finally {
      await pool.end();
    }
  }
  const split = await connectSplit(cluster.conninfo(cluster.nodes.slice(0, 2)), { writer: { max }, reader: { max } });
  try {
    return await use(target === 'pg-split writer' ? split.writer : split.reader);
  } finally {
    await split.end();
  }
}

const TARGETS: readonly Target[] = ['pg.Pool on the primary', 'pg-split writer', 'pg.Pool on the standby', 'pg-split reader'];

export async function measureRoutingCost(cluster: Cluster, binDir: string): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  for (const concurrency of [1, 8, 64]) {
    for (const mode of ['simple', 'prepared'] as const) {
      for (const target of TARGETS) results.push({ target, ...(await withPool(cluster, target, concurrency, (pool) => drive(pool, mode, concurrency))) });
      results.push(pgbench(cluster, mode, concurrency, binDir));
    }
  }
  return results;
}
