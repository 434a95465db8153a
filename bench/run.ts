/**
 * npm run bench: every benchmark in one run, written to docs/benchmarks.md
 * with the machine and the versions.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { findPgBinDir, startCluster } from '@pg-split/harness';
import { measureConsistency } from './consistency.js';
import { measureFailovers, type FailoverRun } from './failover.js';
import { failoverTimeline } from './failover-timeline.js';
import { measureFirstQuery } from './first-query.js';
import { fleetSection, matrixChart, matrixTables, measureFleetMatrix } from './fleet-matrix.js';
import { BALANCE_TEXT, balanceTable, CONDITION_NAMES, measureBalance } from './balance.js';
import { balanceChart } from './balance-chart.js';
import { harnessTable, measureHarness } from './harness-teardown.js';
import { measureScaling } from './hosts-scaling.js';
import { measurePatroniVsHaproxy, type FaultResult, type HopResult } from './patroni-haproxy.js';
import { churnSummary, measureMemberChurn } from './member-churn.js';
import { measureMonitorCost } from './monitor-cost.js';
import { measureOrmSessions, ORM_LOAD, ormSessionsTable } from './orm-sessions.js';
import {
  floorTable,
  FLOOR_BLOCKS,
  FLOOR_LOADS,
  FLOOR_STATEMENTS,
  measureRoutingFloor,
  pgbenchQps,
  pinProcesses,
  unpinClient,
  type FloorSample,
} from './routing-floor.js';
import { table } from './stats.js';

const version = (pkg: string): string =>
  (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;

function stats(xs: number[]): string {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return 'no write resumed';
  return `median ${sorted[Math.floor(sorted.length / 2)]} ms, worst ${sorted[sorted.length - 1]} ms${sorted.length < xs.length ? ` (${xs.length - sorted.length} runs never resumed)` : ''}`;
}

function medianWorst(xs: readonly number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)] ?? '–'} / ${sorted[sorted.length - 1] ?? '–'}`;
}

function faultTable(results: readonly FaultResult[]): string {
  return table(
    [
      'fault',
      'client',
      'write unavailability ms, median / worst',
      'failed writes',
      'failed reads',
      'acknowledged writes lost (by the client)',
      'lost on a timeline Patroni discarded',
    ],
    results.map((r) => [
      r.fault,
      r.client,
      medianWorst(r.unavailableMillis),
      r.failedWrites,
      r.failedReads,
      r.lostToClient,
      r.lostToOrchestrator,
    ]),
  );
}

function hopTable(results: readonly HopResult[]): string {
  return table(
    ['path', 'queries/s', 'p50 ms', 'p99 ms'],
    results.map((r) => [r.client, r.qps, r.p50, r.p99]),
  );
}

const HARNESS_HEADING = '## The test harness: start and teardown';
const HARNESS_TEXT =
  "`bench/harness-teardown.ts` (`npm run bench:harness`): each kind of cluster the test files start, started and destroyed 3 times; every test file pays both. A Patroni cluster's `destroy()` SIGKILLs Patroni, its PostgreSQL, etcd and what it adopted, and waits for them to be gone.";

async function main(): Promise<void> {
  const binDir = findPgBinDir();
  const pgVersion = execFileSync(`${binDir}/postgres`, ['--version'], { encoding: 'utf8' }).trim();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${pgVersion}; pg ${version('pg')}; postgres.js ${version('postgres')}; pgbench/psql from the same PostgreSQL`;
  console.log(machine);
  const floorRounds = Number(process.env['PGSPLIT_BENCH_ROUNDS'] ?? 10);
  let floor: FloorSample[];
  let pgbench: Map<string, number>;
  let placement: string;
  const floorCluster = await startCluster({ standbys: 1 });
  try {
    placement = pinProcesses(floorCluster.nodes);
    floor = await measureRoutingFloor(floorCluster, floorRounds);
    pgbench = new Map(FLOOR_LOADS.map(([kind, c]) => [`${kind} ${c}`, pgbenchQps(floorCluster, kind, c)]));
    console.log('routing done');
  } finally {
    unpinClient();
    await floorCluster.destroy();
  }
  const cluster = await startCluster({ standbys: 2 });
  let firstQuery;
  let ormSessions;
  try {
    firstQuery = await measureFirstQuery(cluster);
    console.log('first query done');
    ormSessions = await measureOrmSessions(cluster);
  } finally {
    await cluster.destroy();
  }
  const failovers: FailoverRun[] = await measureFailovers();
  console.log('failovers done');
  const scaling = await measureScaling();
  const monitor = await measureMonitorCost(20_000);
  const churn = await measureMemberChurn();
  console.log('member churn done');
  const consistency = await measureConsistency();
  const timeline = await failoverTimeline('docs/failover-timeline.svg');
  const harness = await measureHarness();
  const balance = await measureBalance();
  writeFileSync('docs/balance.svg', balanceChart(balance, CONDITION_NAMES));
  const faultRounds = Number(process.env['PGSPLIT_BENCH_FAULT_ROUNDS'] ?? 10);
  const patroni = await measurePatroniVsHaproxy(faultRounds);
  console.log('patroni vs haproxy done');
  const fleet = await measureFleetMatrix((process.env['PGSPLIT_BENCH_FLEET_SIZES'] ?? '1,100,1000').split(',').map(Number));
  writeFileSync('docs/fleet-matrix.svg', matrixChart(fleet));
  const fleetTables = matrixTables(fleet);
  console.log('fleet done');
  const doc = `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.ts\`) in one run on: ${machine}. Every server is on loopback, so latencies are those of the client and server code, not of a network. Re-run to refresh; the figures below are from ${new Date().toISOString().slice(0, 10)}.

## Routing cost

\`bench/routing-floor.ts\`: the same load (\`SELECT 1\`; prepared: \`SELECT $1::int\`) through pg-split's writer and reader, and through \`pg-split/pg\`'s Pool and Client given the cluster's hosts and \`target_session_attrs=read-write\` (what an ORM handed the module runs), and through a plain \`pg.Pool\` or \`pg.Client\` (same \`max\`: the concurrency, and 10 for the saturation rows, where 16 or 64 callers queue in the pool) on the same node (a primary and one standby), ${placement}. Both pools of a pair are open side by side; each round runs them in ${FLOOR_BLOCKS} interleaved blocks each (pg-split, plain, pg-split, ...; the first one alternating from round to round) of 1/${FLOOR_BLOCKS} of the round's statements (${Object.entries(
    FLOOR_STATEMENTS,
  )
    .map(([c, n]) => `${n} at concurrency ${c}`)
    .join(
      ', ',
    )}), so that a drift of the machine falls on both alike; ${floorRounds} measured rounds after one thrown away (connections open, JIT warm). No collection is forced: each pool pays for its own garbage as it goes. pg-split's monitoring sessions (about 33 statements a minute per host, see below) run throughout, so their few statements fall on either pool's blocks. CPU: the client process's own CPU time (\`process.cpuUsage\`) per statement, all of it and the user part alone (the JavaScript of pg, pg-pool and pg-split; the rest is the kernel's socket work); the servers run in other processes. The µs and queries/s columns are medians over the rounds; pg-split's differences are the medians over the rounds of its ratio to plain \`pg.Pool\` in the same round. Target: within 3 % of plain \`pg.Pool\`. pgbench (libpq, C, the same placement, 3 s) for scale.

${floorTable(floor, pgbench)}

## Sessions per node for an ORM's replication setup

\`bench/orm-sessions.ts\` (\`npm run bench:orm-sessions\`): TypeORM's \`replication\` (master and slaves) and Sequelize's (\`write\` and \`read\`) on a primary and two standbys, with plain \`pg\` and one host per entry (the master on the primary, a slave or read entry on each standby), then with \`pg-split/pg\` and one multi-host string per target (\`read-write\`, \`prefer-standby\`). ${ORM_LOAD}; counted on the servers right after, the pools still open: the ORM's pool connections, and pg-split's monitoring sessions after the \`+\`. Both pools of an ORM share one watch: one monitoring session per node, whatever the number of pools.

${ormSessionsTable(ormSessions)}

## Time to the first query with the first host frozen (SIGSTOP)

String: \`host=<frozen standby>,<primary> connect_timeout=2\`; median of 5.

${table(
  ['client', 'median ms', 'outcome'],
  firstQuery.map((r) => [r.client, r.medianMillis, r.outcome]),
)}

## Failover: ${failovers.length} runs

Each run: a fresh primary and 2 standbys, pg-split's writer and postgres.js (\`target_session_attrs=primary\`) writing side by side (2 loops each), primary stopped (fast), a standby promoted 500 ms later. Time from the end of the promotion to each client's first acknowledged write; acknowledged writes missing from the new primary.

${table(
  ['client', 'time to first write after promotion', 'acknowledged writes lost (all runs)'],
  [
    ['pg-split writer (defaults)', stats(failovers.map((f) => f.pgSplitResumeMillis)), failovers.reduce((n, f) => n + f.pgSplitLost, 0)],
    ['postgres.js 3.4', stats(failovers.map((f) => f.postgresJsResumeMillis)), failovers.reduce((n, f) => n + f.postgresJsLost, 0)],
  ],
)}

Timeline of one run (every tick a write acknowledged by the server in its lane; resumed ${timeline.resumeMillis} ms after the promotion; ${timeline.acked} acknowledged, ${timeline.failed} failed in flight):

![failover timeline](failover-timeline.svg)

## Patroni: pg-split and HAProxy on the same faults

\`bench/patroni-haproxy.ts\`: one Patroni cluster (3 members on etcd's v2 API, with which Patroni 3.0.2 never gives a thawed leader its lock back, \`ttl: 10\`, \`loop_wait: 2\`, \`retry_timeout: 4\`, asynchronous replication, no watchdog) and three clients at once, each with 2 writer and 2 reader loops: pg-split with the \`patroni\` option, pg-split on its own checks, and \`pg.Pool\`s through HAProxy configured as Patroni ships it (\`option httpchk HEAD /primary\` and \`/replica\`, \`inter 3s fall 3 rise 2 on-marked-down shutdown-sessions\`). ${faultRounds} rounds of each fault: a planned switchover, a crashed leader host (\`kill -9\` of its Patroni and PostgreSQL), the leader frozen (\`SIGSTOP\` of its Patroni and postmaster, 25 s; its backends keep serving). Write unavailability: the longest time without an acknowledged write that survived, from 1 s before the fault to 1 s after every client wrote on Patroni's new leader. Lost: acknowledged writes missing from Patroni's final leader; if the frozen leader took its lock back anyway, the writes the promoted member acknowledged would be Patroni's loss, in the last column.

${faultTable(patroni.faults)}

The extra hop (\`SELECT 1\`, 8 concurrent loops, median of 4 alternating rounds of 3 s):

${hopTable(patroni.hop)}

## Connections and memory as hosts grow

After 20 concurrent loops of 10 writes + 10 reads; sessions counted by the servers, heap growth measured with \`--expose-gc\`.

${table(
  ['hosts', 'client', 'sessions on the servers', 'heap KiB'],
  scaling.map((r) => [r.hosts, r.client, r.sessions, r.heapKiB]),
)}

pg-split holds one monitoring session per host plus the pooled connections in use (per node, up to \`max\`). Heap differences below about 1 MiB are within garbage-collection noise (a negative figure means the heap shrank).

## Members that come and go (discovery)

\`bench/member-churn.ts\`: a primary and two standbys, \`discovery: { source: 'function' }\` listing the primary and one standby, then the other standby too, then not, over and over (\`--expose-gc\`; sessions counted by the server).

${churnSummary(churn)}

## Monitoring cost on the servers (idle application)

${table(
  ['host', 'sessions', 'statements per minute'],
  monitor.map((m) => [m.host, m.sessions, m.statementsPerMinute]),
)}

## Read-your-writes

${table(
  ['cluster', 'consistency', 'read p50 / p99 ms (no write before)', 'read p50 / p99 ms (after a write)', 'stale reads', 'served'],
  consistency.sequential.map((c) => {
    const r = c as {
      cluster: string;
      consistency: string;
      readOnly: { p50: number; p99: number };
      readAfterWrite: { p50: number; p99: number; stale: number };
      served: Record<string, number>;
    };
    return [
      r.cluster,
      r.consistency,
      `${r.readOnly.p50} / ${r.readOnly.p99}`,
      `${r.readAfterWrite.p50} / ${r.readAfterWrite.p99}`,
      r.readAfterWrite.stale,
      JSON.stringify(r.served),
    ];
  }),
)}

Concurrent reads that must see a write (\`consistency: 'session'\`, all standbys current): ${consistency.concurrent.loops} loops, each writing a row and reading it back through the reader, ${consistency.concurrent.reads} reads. Concurrent reads share write-position fetches (one in flight, one queued) and standbys' replay checks (in flight and their answers), so most reads make no round trip of their own: ${consistency.concurrent.extraRoundTripsPerRead} extra round trips per read (position fetches plus replay checks, \`topology().freshness\`), read p50 ${consistency.concurrent.p50} ms, p99 ${consistency.concurrent.p99} ms, ${consistency.concurrent.stale} stale reads.

## Reads with one slow standby, by balance

${BALANCE_TEXT}

![Read p99 by balance, with the third standby healthy, far, or starved of CPU](balance.svg)

${balanceTable(balance)}

${HARNESS_HEADING}

${HARNESS_TEXT}

${harnessTable(harness)}
`;
  writeFileSync('docs/benchmarks.md', `${doc}\n${fleetSection(fleetTables)}`);
  console.log('wrote docs/benchmarks.md');
}

await main();
