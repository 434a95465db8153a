/**
 * Client CPU per statement: the same load through a plain pg.Pool and through
 * pg-split, with the process's own CPU time (process.cpuUsage: the servers run
 * in other processes) divided by the statements done. Steadier than
 * throughput on a small machine shared with the servers.
 */
import pg from 'pg';
import type { Cluster } from '../src/cluster/index.js';
import { connectSplit } from '../src/split/connect-split.js';
import { percentile } from './stats.js';

export interface CpuResult {
  readonly target: 'pg.Pool' | 'pg-split writer';
  readonly concurrency: number;
  readonly statements: number;
  /** Client CPU (user + system) per statement, microseconds. */
  readonly cpuMicros: number;
}

async function load(pool: pg.Pool, concurrency: number, statements: number): Promise<number> {
  const query = { text: 'SELECT 1 AS x' };
  for (let i = 0; i < concurrency * 4; i++) await pool.query(query);
  let left = statements;
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) await pool.query(query);
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / statements;
}

/** Alternating rounds of the same load through a plain pg.Pool and pg-split's writer, on the same primary. */
export async function measureClientCpu(cluster: Cluster, concurrency: number, statements = 20_000, rounds = 5): Promise<CpuResult[]> {
  const results: CpuResult[] = [];
  for (let round = 0; round < rounds; round++) {
    const plain = new pg.Pool({ host: cluster.primary.host, port: cluster.port, user: 'postgres', database: 'postgres', max: concurrency });
    plain.on('error', () => undefined);
    results.push({ target: 'pg.Pool', concurrency, statements, cpuMicros: await load(plain, concurrency, statements) });
    await plain.end();
    const split = await connectSplit(cluster.conninfo(cluster.nodes.slice(0, 2)), { writer: { max: concurrency } });
    results.push({ target: 'pg-split writer', concurrency, statements, cpuMicros: await load(split.writer, concurrency, statements) });
    await split.end();
  }
  return results;
}

/** The median client CPU per statement of each target at one concurrency. */
export function medianCpu(results: readonly CpuResult[], target: CpuResult['target'], concurrency: number): number {
  const values = results.filter((r) => r.target === target && r.concurrency === concurrency).map((r) => r.cpuMicros).sort((a, b) => a - b);
  return Math.round(percentile(values, 0.5) * 10) / 10;
}
