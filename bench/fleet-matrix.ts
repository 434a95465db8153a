/**
 * What a fleet costs, by size and by how it learns the cluster's roles
 * (npm run bench:fleet-matrix, a section of npm run bench, docs/scaling.md).
 * One Patroni cluster (3 members on 3 etcd members, ttl 10, loop_wait 2,
 * max_connections 100, pg_stat_statements and Patroni's REST access log on);
 * for each mode and size, N application instances over 4 Node processes
 * (bench/fleet-worker.ts), started as a rolling deploy starts pods, then:
 * a window with every instance idle, a window under a light load (each
 * instance a write and a read at random times, MEAN_MILLIS apart on average,
 * idle in between), a planned switchover and a leader frozen past its TTL
 * (bench/fleet-faults.ts). Measured on the servers: sessions of the fleet on
 * each member (pg_stat_activity), statements pg-split itself ran on each
 * (pg_stat_statements: everything of the fleet's role but the application's
 * write and read), each Patroni's CPU (/proc) and REST requests (its access
 * log), etcd's CPU and watchers (its /metrics); heap per instance.
 *
 * Modes: pg-split's own checks (no `patroni` option); `patroni` over the
 * REST API; `patroni` from etcd; and without pg-split, plain pg.Pools behind
 * two HAProxy instances configured as Patroni ships HAProxy.
 *
 * PGSPLIT_FLEET_SIZES (1,100,1000), PGSPLIT_FLEET_MODES (all, comma-separated),
 * PGSPLIT_FLEET_ROWS=<a run's stderr>: the tables and chart again, without measuring.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { SECURE_PASSWORD, SECURE_ROLE, startHaproxy, startPatroniCluster, type Haproxy, type PatroniCluster } from '@pg-split/harness';
import type { SplitOptions } from '../src/split/options.js';
import { lineCharts } from './fleet-chart.js';
import { faultUnderFleet, HOT, type FaultResult } from './fleet-faults.js';
import { createFleetTable, FleetWorker, heapPerInstance, sessionsNamed } from './fleet.js';
import { cpuDuring } from './proc-cpu.js';
import { table } from './stats.js';

const APP = 'pgsplit-fleet-matrix';
const PROCESSES = 4;
const MEAN_MILLIS = 180_000;
const IDLE_AFTER_MILLIS = 2000;
/** A rolling deploy: 1000 instances over two minutes. */
const ROLLOUT_MILLIS_PER_INSTANCE = 120;
const IDLE_WINDOW_MILLIS = 20_000;
const LIGHT_WINDOW_MILLIS = 60_000;

const MODES = ['no client', 'own checks', 'REST API', 'etcd watch', 'HAProxy'] as const;
export type Mode = (typeof MODES)[number];

interface CostWindow {
  /** The fleet's sessions on each member, most seen (sampled every 2 s). */
  readonly sessions: readonly number[];
  /** Statements pg-split itself ran on each member, per second. */
  readonly statementsPerSecond: readonly number[];
  /** Each member's Patroni, % of one core. */
  readonly patroniCpu: readonly number[];
  /** REST requests each member's Patroni answered, per second. */
  readonly restPerSecond: readonly number[];
  /** etcd's three members together, % of one core. */
  readonly etcdCpu: number;
  readonly etcdWatchers: number;
}

export interface MatrixRow {
  readonly mode: Mode;
  readonly instances: number;
  readonly startedSeconds: number;
  readonly heapPerInstanceBytes: number;
  readonly idle: CostWindow;
  readonly light: CostWindow;
  readonly faults: readonly FaultResult[];
}

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** The application's own statements (bench/fleet-worker.ts); everything else of the fleet's role is pg-split's. */
const OWN_STATEMENTS = `SELECT coalesce(sum(s.calls), 0) AS n FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
  WHERE r.rolname = $1 AND s.query NOT LIKE 'INSERT INTO fleet_writes%' AND s.query NOT LIKE 'SELECT host(inet_server_addr()) AS host%'`;

async function pgSplitStatements(cluster: PatroniCluster): Promise<number[]> {
  return Promise.all(
    cluster.members.map(async (m) => Number((await m.query<{ n: string }>(OWN_STATEMENTS, [SECURE_ROLE]).catch(() => []))[0]?.n ?? 0)),
  );
}

/** REST requests in each member's Patroni log so far (its `API thread:` lines). */
function restRequests(cluster: PatroniCluster): number[] {
  return cluster.members.map((m) => (readFileSync(m.logPath, 'utf8').match(/ API thread: /g) ?? []).length);
}

/** Most sessions of the fleet's seen on each member, every 2 s until `done()`. */
async function peakSessions(cluster: PatroniCluster, done: () => boolean): Promise<number[]> {
  const peak = cluster.members.map(() => 0);
  while (!done()) {
    (await sessionsNamed(cluster.members, APP)).forEach((n, i) => (peak[i] = Math.max(peak[i] ?? 0, n)));
    await sleep(2000);
  }
  return peak;
}

async function measureWindow(cluster: PatroniCluster, millis: number): Promise<CostWindow> {
  await Promise.all(cluster.members.map((m) => m.query('SELECT pg_stat_statements_reset()').catch(() => undefined)));
  const restBefore = restRequests(cluster);
  const pids = [...cluster.members.map((m) => m.patroniPid ?? 0), ...cluster.etcd.members.map((m) => m.daemon.pid ?? 0)];
  let done = false;
  const window = sleep(millis).then(() => (done = true));
  const [cpu, sessions, etcdWatchers] = await Promise.all([
    cpuDuring(pids, window),
    peakSessions(cluster, () => done),
    sleep(millis / 2).then(() => cluster.etcd.watchers()),
  ]);
  const seconds = millis / 1000;
  const restAfter = restRequests(cluster);
  const patronis = cluster.members.length;
  return {
    sessions,
    statementsPerSecond: (await pgSplitStatements(cluster)).map((n) => round1(n / seconds)),
    patroniCpu: cpu.slice(0, patronis),
    restPerSecond: restAfter.map((n, i) => round1((n - (restBefore[i] ?? 0)) / seconds)),
    etcdCpu: round1(cpu.slice(patronis).reduce((a, b) => a + b, 0)),
    etcdWatchers,
  };
}

/**
 * Waits until HAProxy sends connections on its primary port to the leader
 * only: it starts with every server up, and marks a replica down after
 * `fall 3` failed checks, `inter 3s` apart.
 */
async function untilRouted(h: Haproxy): Promise<void> {
  let inARow = 0;
  const deadline = Date.now() + 60_000;
  while (inARow < 10 && Date.now() < deadline) {
    const client = new pg.Client({ host: h.host, port: h.primaryPort, user: 'postgres', database: 'postgres' });
    const standby = await client
      .connect()
      .then(() => client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby'))
      .then((r) => r.rows[0]?.standby !== false)
      .catch(() => true)
      .finally(() => client.end().catch(() => undefined));
    inARow = standby ? 0 : inARow + 1;
    await sleep(200);
  }
}

/** Waits until the fleet holds no session anywhere (its instances asleep), 30 s at most. */
async function untilIdle(cluster: PatroniCluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await sessionsNamed(cluster.members, APP)).some((n) => n > 0) && Date.now() < deadline) await sleep(500);
}

function workerJob(cluster: PatroniCluster, mode: Mode, haproxies: readonly Haproxy[]): object {
  const url = cluster.url(cluster.members, { application_name: APP }).replace('postgres@', `${SECURE_ROLE}:${SECURE_PASSWORD}@`);
  const listener = (h: Haproxy, port: number): string =>
    `postgresql://${SECURE_ROLE}:${SECURE_PASSWORD}@${h.host}:${port}/postgres?application_name=${APP}`;
  const options: SplitOptions =
    mode === 'REST API'
      ? { patroni: { port: cluster.apiPort } }
      : mode === 'etcd watch'
        ? { patroni: { etcd: cluster.etcdOptions() } }
        : {};
  return mode === 'HAProxy'
    ? { url, haproxy: haproxies.map((h) => ({ writer: listener(h, h.primaryPort), reader: listener(h, h.replicaPort) })) }
    : { url, options };
}

async function measureCell(cluster: PatroniCluster, mode: Mode, instances: number, haproxies: readonly Haproxy[]): Promise<MatrixRow> {
  await cluster.heal(300_000);
  for (const h of haproxies) await untilRouted(h);
  const job = workerJob(cluster, mode, haproxies);
  const startEveryMillis = Math.max(20, ROLLOUT_MILLIS_PER_INSTANCE * PROCESSES);
  const fleet: FleetWorker[] = [];
  const started = Date.now();
  for (let p = 0; p < Math.min(PROCESSES, instances); p++) {
    const count = Math.floor(instances / PROCESSES) + (p < instances % PROCESSES ? 1 : 0);
    fleet.push(new FleetWorker({ ...job, count, startEveryMillis, idleAfterMillis: IDLE_AFTER_MILLIS }));
  }
  const hot =
    mode === 'no client' ? null : new FleetWorker({ ...job, count: HOT, startEveryMillis: 100, idleAfterMillis: IDLE_AFTER_MILLIS });
  const workers = hot === null ? fleet : [...fleet, hot];
  try {
    await Promise.all(workers.map((w) => w.until('ready')));
    const startedSeconds = round1((Date.now() - started) / 1000);
    await untilIdle(cluster);
    const idle = await measureWindow(cluster, IDLE_WINDOW_MILLIS);
    for (const w of fleet) w.send(`soak ${MEAN_MILLIS}`);
    const light = instances === 0 ? idle : await measureWindow(cluster, LIGHT_WINDOW_MILLIS);
    const faults: FaultResult[] = [];
    if (hot !== null)
      for (const fault of ['switchover', 'frozen leader'] as const) faults.push(await faultUnderFleet(cluster, fault, hot, fleet));
    for (const w of fleet) w.send('stop');
    await Promise.all(fleet.map((w) => w.until('stopped')));
    return { mode, instances, startedSeconds, heapPerInstanceBytes: heapPerInstance(fleet), idle, light, faults };
  } finally {
    for (const w of workers) w.send('end');
    await Promise.all(workers.map((w) => w.until('ended').catch(() => undefined)));
    // Their stdin (this process's pipe) keeps them alive once ended.
    for (const w of workers) w.kill();
  }
}

/** Every mode at every size on one cluster; each row also goes to stderr as a JSON line as soon as it is measured. */
export async function measureFleetMatrix(sizes: readonly number[], modes: readonly Mode[] = MODES): Promise<MatrixRow[]> {
  const cluster = await startPatroniCluster({ members: 3, etcdMembers: 3, maxConnections: 100, instruments: true });
  const rows: MatrixRow[] = [];
  try {
    const leader = await cluster.waitUntilSettled();
    await createFleetTable(leader, SECURE_ROLE);
    await leader.query('CREATE EXTENSION pg_stat_statements');
    for (const mode of modes) {
      // Two HAProxy instances, as a deployment runs them; their checks cost Patroni whatever the number of clients.
      const haproxies = mode === 'HAProxy' ? [await startHaproxy(cluster), await startHaproxy(cluster)] : [];
      try {
        for (const n of mode === 'no client' ? [0] : sizes) {
          const row = await measureCell(cluster, mode, n, haproxies);
          console.error(JSON.stringify(row));
          rows.push(row);
        }
      } finally {
        for (const h of haproxies) await h.stop();
      }
    }
  } finally {
    await cluster.destroy();
  }
  return rows;
}

const millis = (x: number): string => (Number.isFinite(x) ? `${x}` : 'never');

/** The cost table (one line per mode, size and load) and the fault table (one per mode, size and fault). */
export function matrixTables(rows: readonly MatrixRow[]): { cost: string; faults: string } {
  const cost = table(
    [
      'mode',
      'instances',
      'load',
      "fleet's sessions per member, most seen",
      "pg-split's own statements per member, per s",
      "each member's Patroni, % of a core",
      'REST requests per member, per s',
      'etcd (3 members), % of a core',
      'etcd watchers',
      'heap per instance',
    ],
    rows.flatMap((r) =>
      (r.instances === 0 ? (['idle'] as const) : (['idle', 'light'] as const)).map((load) => {
        const w = r[load];
        return [
          r.mode,
          r.instances,
          load,
          w.sessions.join(', '),
          w.statementsPerSecond.join(', '),
          w.patroniCpu.join(', '),
          w.restPerSecond.join(', '),
          w.etcdCpu,
          w.etcdWatchers,
          r.instances === 0 ? '-' : `${Math.round(r.heapPerInstanceBytes / 1024)} KiB`,
        ];
      }),
    ),
  );
  const faults = table(
    [
      'mode',
      'instances',
      'fault',
      "the new leader's PostgreSQL read-write after the key moved, ms",
      `${HOT} busy instances decided the new leader after the key moved, median / worst ms`,
      `${HOT} busy instances on the new leader after the key moved, median / worst ms`,
      "busy instances' process: timers late by, p99 / worst ms",
      'machine busy in the 2 s after the key moved, % of both cores',
      "writes on the old leader after the new leader's first",
      'failed rounds',
      'acknowledged writes lost',
      'leader key held by, in turn',
    ],
    rows.flatMap((r) =>
      r.faults.map((f) => [
        r.mode,
        r.instances,
        f.fault,
        millis(f.promotedAfterMillis),
        r.mode === 'HAProxy' ? '-' : `${millis(f.busyDecidedMillis.median)} / ${millis(f.busyDecidedMillis.worst)}`,
        `${millis(f.busyToNewLeaderMillis.median)} / ${millis(f.busyToNewLeaderMillis.worst)}`,
        `${f.busyLoopDelayMillis.p99} / ${f.busyLoopDelayMillis.max}`,
        f.machineBusyPercent,
        f.writesOnOldAfterNew,
        f.failedRounds,
        f.lostWrites,
        f.lockPath,
      ]),
    ),
  );
  return { cost, faults };
}

/** The section of docs/benchmarks.md (npm run bench): the two tables; what they mean is in docs/scaling.md. */
export function fleetSection(tables: { cost: string; faults: string }): string {
  return `## A fleet: 1 to 1000 application processes

\`bench/fleet-matrix.ts\` (alone: \`npm run bench:fleet-matrix\`): a 3-member Patroni cluster on 3 etcd members (\`ttl 10\`, \`loop_wait 2\`, \`max_connections = 100\`) and N application instances over 4 Node processes, started at a rolling deploy's pace (one every ${ROLLOUT_MILLIS_PER_INSTANCE} ms), in each mode: pg-split's own checks, \`patroni\` over the REST API, \`patroni\` from etcd, and plain \`pg.Pool\`s behind two HAProxy instances. A ${IDLE_WINDOW_MILLIS / 1000} s window with every instance idle, then ${LIGHT_WINDOW_MILLIS / 1000} s of a light load (each instance a write and a read at random times, ${MEAN_MILLIS / 60_000} minutes apart on average, idle in between); sessions by \`pg_stat_activity\`, pg-split's own statements by \`pg_stat_statements\`, Patroni's REST requests by its access log, CPU from \`/proc\`. Then a planned switchover and a leader frozen past its TTL (Patroni and its postmaster stopped, its backends serving), each while the fleet runs and ${HOT} more instances write in a tight loop: when each busy instance decided the new leader and when it wrote there, how late its process ran timers, how busy the machine was. What the figures mean, and the chart: [scaling.md](scaling.md#measured-what-each-mode-costs-from-1-to-1000-processes).

${tables.cost}

${tables.faults}
`;
}

const COLORS: Record<Mode, string> = {
  'no client': '#7f8c8d',
  'own checks': '#27ae60',
  'REST API': '#c0392b',
  'etcd watch': '#2980b9',
  HAProxy: '#8e44ad',
};

/** Sessions (busiest member) and Patroni's CPU (busiest member) against N under the light load, one line per mode. */
export function matrixChart(rows: readonly MatrixRow[]): string {
  const series = (value: (r: MatrixRow) => number): Array<{ name: string; color: string; points: Array<[number, number]> }> =>
    MODES.filter((m) => m !== 'no client' && rows.some((r) => r.mode === m)).map((mode) => ({
      name: mode,
      color: COLORS[mode],
      points: rows.filter((r) => r.mode === mode).map((r): [number, number] => [r.instances, value(r)]),
    }));
  return lineCharts([
    { title: "Fleet's sessions on the busiest member, light load", series: series((r) => Math.max(...r.light.sessions)) },
    { title: "Patroni's CPU (busiest member), % of a core, light load", series: series((r) => Math.max(...r.light.patroniCpu)) },
  ]);
}

function report(rows: readonly MatrixRow[]): void {
  writeFileSync('docs/fleet-matrix.svg', matrixChart(rows));
  const { cost, faults } = matrixTables(rows);
  console.log(`${cost}\n\n${faults}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rowsFile = process.env['PGSPLIT_FLEET_ROWS'];
  if (rowsFile !== undefined) {
    const lines = readFileSync(rowsFile, 'utf8').split('\n');
    report(lines.filter((l) => l.startsWith('{"mode"')).map((l) => JSON.parse(l) as MatrixRow));
  } else {
    const sizes = (process.env['PGSPLIT_FLEET_SIZES'] ?? '1,100,1000').split(',').map(Number);
    const modes = (process.env['PGSPLIT_FLEET_MODES']?.split(',') ?? MODES).filter((m): m is Mode =>
      (MODES as readonly string[]).includes(m),
    );
    report(await measureFleetMatrix(sizes, modes));
  }
}
