/**
 * Routing at the floor: pg-split's writer and reader against a plain pg.Pool
 * on the same node, with the client on one core and the servers on the
 * other where the machine has two or more (taskset). Both pools of a pair
 * are open side by side; each round runs them in interleaved blocks
 * (pg-split, plain, pg-split, ... the first one alternating from round to
 * round), so that the drift of a shared machine falls on both alike, and
 * sums per target the client's own CPU (process.cpuUsage; the servers are
 * other processes), all of it and the user (JavaScript) part, and the wall
 * time. One round before the measured ones is thrown away (connections
 * open, the JIT warms up). No collection is forced: the block right after a
 * forced full collection runs markedly slower whichever target it is, and
 * each target pays for its own garbage as it goes. pg-split's difference is
 * the median over the rounds of its ratio to plain pg.Pool in the same
 * round.
 *
 * `npm run bench:routing` runs it alone (PGSPLIT_BENCH_ROUNDS, default 10).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findPgBinDir, startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import PgSplitPg from '../src/pg/index.js';
import { connectSplit } from '../src/split/connect-split.js';
import { percentile, table } from './stats.js';

export type FloorTarget =
  | 'pg.Pool (primary)'
  | 'pg-split writer'
  | 'pg.Pool (standby)'
  | 'pg-split reader'
  | 'pg-split/pg Pool (read-write)'
  | 'pg.Client (primary)'
  | 'pg-split/pg Client (read-write)';
export type StatementKind = 'simple' | 'prepared';

export interface FloorSample {
  /** The comparison it belongs to, named by pg-split's target (plain pg.Pool is measured in several). */
  readonly pair: FloorTarget;
  readonly target: FloorTarget;
  readonly kind: StatementKind;
  readonly concurrency: number;
  /** Both pools' `max` (per node): the concurrency, or fewer (callers queue in the pool: saturation). */
  readonly max: number;
  readonly round: number;
  /** Client CPU (user + system) per statement, microseconds. */
  readonly cpuMicros: number;
  /** Of which user time: the JavaScript of pg, pg-pool and pg-split (the rest is the kernel's sockets). */
  readonly userMicros: number;
  readonly qps: number;
}

/** What a block runs its statements through: a pool, or one client (one statement at a time). */
interface Queryable {
  query(config: pg.QueryConfig): Promise<unknown>;
}

/** One comparison: pg-split's target and plain pg's on the same node, opened side by side with the same `max`. */
interface FloorPair {
  readonly ours: FloorTarget;
  readonly plain: FloorTarget;
  /** A client serves one caller: only the loads of one caller. */
  readonly single: boolean;
  open(cluster: Cluster, max: number): Promise<{ ours: Queryable; plain: Queryable; close(): Promise<void> }>;
}

const PAIRS: readonly FloorPair[] = [
  { ours: 'pg-split writer', plain: 'pg.Pool (primary)', single: false, open: (c, max) => splitPair(c, 'writer', max) },
  { ours: 'pg-split reader', plain: 'pg.Pool (standby)', single: false, open: (c, max) => splitPair(c, 'reader', max) },
  { ours: 'pg-split/pg Pool (read-write)', plain: 'pg.Pool (primary)', single: false, open: (c, max) => modulePair(c, 'Pool', max) },
  { ours: 'pg-split/pg Client (read-write)', plain: 'pg.Client (primary)', single: true, open: (c, max) => modulePair(c, 'Client', max) },
];
const CONCURRENCIES = [1, 8, 64] as const;
const KINDS: readonly StatementKind[] = ['simple', 'prepared'];

/** A load: callers running statements in a loop, and both pools' `max`. */
interface FloorLoad {
  readonly concurrency: number;
  readonly max: number;
}

/** As many connections as callers; then more callers than `max: 10` allows, waiting in the pool's queue (saturation). */
const LOADS: readonly FloorLoad[] = [
  ...CONCURRENCIES.map((c) => ({ concurrency: c, max: c })),
  { concurrency: 16, max: 10 },
  { concurrency: 64, max: 10 },
];

/** Statements per round and target: about a second of load on a 2-core machine. */
export const FLOOR_STATEMENTS: Readonly<Record<number, number>> = { 1: 15_000, 8: 30_000, 16: 30_000, 64: 30_000 };

/** Blocks per round and target: each runs 1/FLOOR_BLOCKS of FLOOR_STATEMENTS, alternating with the other target's. */
export const FLOOR_BLOCKS = 10;

/** Pins every thread of a process to a CPU list ("0", "1-3"); false when taskset failed. */
function taskset(cpuList: string, pid: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function children(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

/**
 * Client on CPU 0, every server process (postmaster and its children; later
 * backends inherit the postmaster's affinity) on the others. Returns how the
 * run was placed, for the report.
 */
export function pinProcesses(nodes: readonly ClusterNode[]): string {
  const count = cpus().length;
  if (count < 2) return `not pinned (${count} CPU)`;
  const servers = count === 2 ? '1' : `1-${count - 1}`;
  let pinned = taskset('0', process.pid);
  for (const node of nodes) {
    const pid = node.pid;
    if (pid === undefined) continue;
    for (const p of [pid, ...children(pid)]) pinned = taskset(servers, p) && pinned;
  }
  return pinned ? `client on CPU 0, servers on CPU ${servers} (taskset)` : 'taskset failed: not pinned';
}

/** Gives the client every CPU again (servers started later inherit its affinity). */
export function unpinClient(): void {
  const count = cpus().length;
  if (count >= 2) taskset(`0-${count - 1}`, process.pid);
}

/** pgbench (libpq, C) on the primary for scale, with the client's placement: queries per second. */
export function pgbenchQps(cluster: Cluster, kind: StatementKind, concurrency: number, seconds = 3): number {
  const script = join(cluster.rootDir, 'select1.sql');
  writeFileSync(script, 'SELECT 1 AS x;\n');
  const args = [
    '-h',
    cluster.primary.host,
    '-p',
    String(cluster.primary.port),
    '-U',
    'postgres',
    '-n',
    '-c',
    String(concurrency),
    '-j',
    '1',
    '-T',
    String(seconds),
    '-M',
    kind,
    '-f',
    script,
    'postgres',
  ];
  const out = execFileSync(join(findPgBinDir(), 'pgbench'), args, { encoding: 'utf8' });
  return Math.round(Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0));
}

function statement(kind: StatementKind): pg.QueryConfig {
  return kind === 'simple' ? { text: 'SELECT 1 AS x' } : { name: 'floor_one', text: 'SELECT $1::int AS x', values: [1] };
}

/** What one target used in one round. */
interface Usage {
  cpuMicros: number;
  userMicros: number;
  millis: number;
}

/** `statements` statements from `concurrency` loops; adds the client's CPU and the wall time to `usage`. */
async function block(pool: Queryable, query: pg.QueryConfig, concurrency: number, statements: number, usage: Usage): Promise<void> {
  let left = statements;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await pool.query(query);
    }),
  );
  usage.millis += performance.now() - started;
  const used = process.cpuUsage(cpuBefore);
  usage.cpuMicros += used.user + used.system;
  usage.userMicros += used.user;
}

/** A plain pg.Pool on the node and connectSplit's pool of the role (same `max`). */
async function splitPair(cluster: Cluster, role: 'writer' | 'reader', max: number): ReturnType<FloorPair['open']> {
  const node = role === 'writer' ? cluster.primary : cluster.standbys[0]!;
  const plain = new pg.Pool({ host: node.host, port: node.port, user: 'postgres', database: 'postgres', max });
  plain.on('error', () => undefined);
  const split = await connectSplit(cluster.conninfo(), { writer: { max }, reader: { max } }).catch(async (err: unknown) => {
    await plain.end();
    throw err;
  });
  return { ours: split[role], plain, close: async () => void (await Promise.all([split.end(), plain.end()])) };
}

/**
 * pg-split/pg's Pool or Client given the cluster's hosts and
 * target_session_attrs=read-write, beside pg's own on the primary: what an
 * ORM handed the module costs per statement.
 */
async function modulePair(cluster: Cluster, kind: 'Pool' | 'Client', max: number): ReturnType<FloorPair['open']> {
  const hosts = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const routed = `postgresql://postgres@${hosts}/postgres?target_session_attrs=read-write`;
  const direct = { host: cluster.primary.host, port: cluster.primary.port, user: 'postgres', database: 'postgres' };
  if (kind === 'Pool') {
    const ours = new PgSplitPg.Pool({ connectionString: routed, max });
    const plain = new pg.Pool({ ...direct, max });
    return { ours, plain, close: async () => void (await Promise.all([ours.end(), plain.end()])) };
  }
  const ours = new PgSplitPg.Client(routed);
  const plain = new pg.Client(direct);
  await Promise.all([ours.connect(), plain.connect()]);
  return { ours, plain, close: async () => void (await Promise.all([ours.end(), plain.end()])) };
}

/** The bench's statement kinds and concurrencies, for the pgbench rows. */
export const FLOOR_LOADS: ReadonlyArray<readonly [StatementKind, number]> = CONCURRENCIES.flatMap((c) => KINDS.map((k) => [k, c] as const));

/**
 * One pair (pg-split's pool of a role and the plain pool on the same node)
 * under one load: `rounds` measured rounds of interleaved blocks, after one
 * thrown away.
 */
async function measurePair(
  cluster: Cluster,
  pair: FloorPair,
  kind: StatementKind,
  { concurrency, max }: FloorLoad,
  rounds: number,
): Promise<FloorSample[]> {
  const { ours, plain: plainTarget } = pair;
  const query = statement(kind);
  const perBlock = Math.ceil((FLOOR_STATEMENTS[concurrency] ?? 10_000) / FLOOR_BLOCKS);
  const opened = await pair.open(cluster, max);
  const { ours: oursPool, plain: plainPool } = opened;
  try {
    const samples: FloorSample[] = [];
    for (let round = -1; round < rounds; round++) {
      const oursUsage: Usage = { cpuMicros: 0, userMicros: 0, millis: 0 };
      const plainUsage: Usage = { cpuMicros: 0, userMicros: 0, millis: 0 };
      for (let b = 0; b < 2 * FLOOR_BLOCKS; b++) {
        const oursTurn = (b + round) % 2 === 0;
        await block(oursTurn ? oursPool : plainPool, query, concurrency, perBlock, oursTurn ? oursUsage : plainUsage);
      }
      if (round < 0) continue;
      const statements = perBlock * FLOOR_BLOCKS;
      for (const [target, u] of [
        [ours, oursUsage],
        [plainTarget, plainUsage],
      ] as const) {
        samples.push({
          pair: ours,
          target,
          kind,
          concurrency,
          max,
          round,
          cpuMicros: u.cpuMicros / statements,
          userMicros: u.userMicros / statements,
          qps: statements / (u.millis / 1000),
        });
      }
    }
    return samples;
  } finally {
    await opened.close();
  }
}

/** Every pair under every load (statement kind and concurrency). */
export async function measureRoutingFloor(cluster: Cluster, rounds: number): Promise<FloorSample[]> {
  const samples: FloorSample[] = [];
  for (const load of LOADS) {
    for (const kind of KINDS) {
      for (const pair of PAIRS) {
        if (pair.single && load.concurrency > 1) continue;
        samples.push(...(await measurePair(cluster, pair, kind, load, rounds)));
      }
    }
  }
  return samples;
}

function ofLoad(
  samples: readonly FloorSample[],
  pair: FloorTarget,
  target: FloorTarget,
  kind: StatementKind,
  load: FloorLoad,
): FloorSample[] {
  return samples.filter(
    (s) => s.pair === pair && s.target === target && s.kind === kind && s.concurrency === load.concurrency && s.max === load.max,
  );
}

const middle = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

type Measure = 'cpuMicros' | 'userMicros' | 'qps';

/** pg-split's ratio to plain pg.Pool in each round (both measured in it), median over the rounds. */
function pairedRatio(ours: readonly FloorSample[], plain: readonly FloorSample[], field: Measure): number {
  const ratios = ours.flatMap((o) => {
    const p = plain.find((s) => s.round === o.round);
    return p === undefined || p[field] === 0 ? [] : [o[field] / p[field]];
  });
  return middle(ratios);
}

const signed = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`;

/**
 * One row per pool role, statement kind and concurrency: the medians of
 * both, and pg-split's paired difference (all client CPU, user CPU only,
 * throughput); pgbench's queries/s for scale.
 */
export function floorTable(samples: readonly FloorSample[], pgbench: ReadonlyMap<string, number> = new Map()): string {
  const rows: Array<Array<string | number>> = [];
  for (const { ours: oursTarget, plain: plainTarget, single } of PAIRS) {
    for (const load of LOADS) {
      if (single && load.concurrency > 1) continue;
      for (const kind of KINDS) {
        const ours = ofLoad(samples, oursTarget, oursTarget, kind, load);
        const plain = ofLoad(samples, oursTarget, plainTarget, kind, load);
        const med = (of: readonly FloorSample[], field: Measure): number => middle(of.map((s) => s[field]));
        // pgbench has no pool: a row for scale only where every caller has its connection.
        const saturated = load.max < load.concurrency;
        const scale = oursTarget === 'pg-split writer' && !saturated ? (pgbench.get(`${kind} ${load.concurrency}`) ?? '–') : '–';
        rows.push([
          `${oursTarget} vs ${plainTarget}`,
          kind,
          saturated ? `${load.concurrency} on max ${load.max}` : load.concurrency,
          med(plain, 'cpuMicros').toFixed(1),
          med(ours, 'cpuMicros').toFixed(1),
          signed(pairedRatio(ours, plain, 'cpuMicros')),
          signed(pairedRatio(ours, plain, 'userMicros')),
          Math.round(med(plain, 'qps')),
          Math.round(med(ours, 'qps')),
          signed(pairedRatio(ours, plain, 'qps')),
          scale,
        ]);
      }
    }
  }
  return table(
    [
      'pg-split vs plain',
      'statements',
      'concurrency',
      'CPU µs/stmt, plain',
      'CPU µs/stmt, pg-split',
      'CPU',
      'user CPU',
      'queries/s, plain',
      'queries/s, pg-split',
      'throughput',
      'pgbench queries/s',
    ],
    rows,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.env['PGSPLIT_BENCH_ROUNDS'] ?? 10);
  const cluster = await startCluster({ standbys: 1 });
  try {
    const placement = pinProcesses(cluster.nodes);
    const samples = await measureRoutingFloor(cluster, rounds);
    const pgbench = new Map(FLOOR_LOADS.map(([kind, c]) => [`${kind} ${c}`, pgbenchQps(cluster, kind, c)]));
    console.log(`${rounds} rounds, ${placement}\n\n${floorTable(samples, pgbench)}`);
  } finally {
    await cluster.destroy();
  }
}
