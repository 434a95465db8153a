/**
 * What a fleet of active application processes costs Patroni and etcd
 * (npm run bench:fleet-patroni, docs/scaling.md). One Patroni cluster
 * (3 members on 3 etcd members, ttl 10, loop_wait 2); for each mode, a fleet
 * of connectSplit instances that never go idle (idleAfterMillis 0), spread
 * over 4 Node processes (bench/fleet-worker.ts), then a 30 s window in which
 * the CPU time of every Patroni and etcd process is read from /proc, etcd's
 * watches from its metrics and pg-split's sessions from pg_stat_activity.
 * Then a planned switchover under one more instance's write loop: the longest
 * time between two acknowledged writes, and how many failed.
 *
 * Modes: no client at all (Patroni's own cost); `patroni: { port }` (every
 * instance asks every member's REST API each second); `patroni: { etcd }`
 * (every instance watches Patroni's keys in etcd); HAProxy as Patroni ships
 * it (its checks ask the REST API, however many processes connect through it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { SECURE_PASSWORD, SECURE_ROLE, startHaproxy, startPatroniCluster, type PatroniCluster } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import type { SplitOptions } from '../src/split/options.js';
import { createFleetTable, FleetWorker, sessionsNamed } from './fleet.js';
import { cpuDuring } from './proc-cpu.js';
import { table } from './stats.js';

const APP = 'pgsplit-fleet-patroni';
const WINDOW_MILLIS = 30_000;
const PROCESSES = 4;

type Mode = 'no client' | 'REST API' | 'etcd watch' | 'HAProxy';

interface CostRow {
  readonly mode: Mode;
  readonly instances: number;
  /** Each member's Patroni, % of one core. */
  readonly patroniCpu: readonly number[];
  /** Every etcd member together, % of one core. */
  readonly etcdCpu: number;
  readonly etcdWatches: number;
  /** pg-split's sessions on each member. */
  readonly sessions: readonly number[];
  readonly switchover: { readonly longestGapMillis: number; readonly failed: number } | null;
}

/** Each process's CPU over `millis`, in % of one core. */
const cpuOver = (pids: readonly number[], millis: number): Promise<number[]> => cpuDuring(pids, new Promise((r) => setTimeout(r, millis)));

/** A write loop through `pool` during a planned switchover: the longest time between two acknowledged writes, and the failures. */
async function switchoverGap(cluster: PatroniCluster, pool: pg.Pool): Promise<{ longestGapMillis: number; failed: number }> {
  const acks: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await pool.query('INSERT INTO fleet_writes (host) VALUES (host(inet_server_addr()))');
        acks.push(Date.now());
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await new Promise((r) => setTimeout(r, 2000));
  // Settled, and a member Patroni 3.0.2 left unable to follow after an earlier switchover rebuilt (as an operator would).
  await cluster.heal(300_000);
  const from = Date.now();
  await cluster.switchover();
  // Settled on the new leader (a member left unable to follow is rebuilt: the write loop does not go through it).
  await cluster.heal(300_000);
  await new Promise((r) => setTimeout(r, 3000));
  running = false;
  await loop;
  const times = [from, ...acks.filter((a) => a >= from)];
  const longestGapMillis = times.slice(1).reduce((gap, at, i) => Math.max(gap, at - (times[i] ?? at)), 0);
  return { longestGapMillis, failed };
}

async function measure(cluster: PatroniCluster, mode: Mode, instances: number): Promise<CostRow> {
  const options: SplitOptions =
    mode === 'REST API'
      ? { patroni: { port: cluster.apiPort } }
      : mode === 'etcd watch'
        ? { patroni: { etcd: cluster.etcdOptions() } }
        : {};
  // A role of their own (not the superuser): PostgreSQL keeps its reserved slots for Patroni however many sessions they hold.
  const url = cluster.url(cluster.members, { application_name: APP }).replace('postgres@', `${SECURE_ROLE}:${SECURE_PASSWORD}@`);
  const workers: FleetWorker[] = [];
  const haproxy = mode === 'HAProxy' ? await startHaproxy(cluster) : null;
  try {
    for (let p = 0; p < PROCESSES && instances > 0; p++) {
      const count = Math.floor(instances / PROCESSES) + (p < instances % PROCESSES ? 1 : 0);
      workers.push(new FleetWorker({ url, count, startEveryMillis: 20, idleAfterMillis: 0, options }));
    }
    await Promise.all(workers.map((w) => w.until('ready')));
    // Settled: every instance started and made its first statements.
    await new Promise((r) => setTimeout(r, 5000));
    const patroniPids = cluster.members.map((m) => m.patroniPid ?? 0);
    const etcdPids = cluster.etcd.members.map((m) => m.daemon.pid ?? 0);
    const [cpu, watches, sessions] = await Promise.all([
      cpuOver([...patroniPids, ...etcdPids], WINDOW_MILLIS),
      new Promise((r) => setTimeout(r, WINDOW_MILLIS / 2)).then(() => cluster.etcd.watchers()),
      new Promise((r) => setTimeout(r, WINDOW_MILLIS / 2)).then(() => sessionsNamed(cluster.members, APP)),
    ]);
    let switchover: CostRow['switchover'] = null;
    if (mode !== 'no client') {
      if (haproxy !== null) {
        const pool = new pg.Pool({ host: haproxy.host, port: haproxy.primaryPort, user: 'postgres', database: 'postgres', max: 2 });
        switchover = await switchoverGap(cluster, pool).finally(() => pool.end());
      } else {
        const split = await connectSplit(url, { ...options, idleAfterMillis: 0, failoverTimeoutMillis: 60_000 });
        switchover = await switchoverGap(cluster, split.writer).finally(() => split.end());
      }
    }
    return {
      mode,
      instances,
      patroniCpu: cpu.slice(0, patroniPids.length),
      etcdCpu: Math.round(cpu.slice(patroniPids.length).reduce((a, b) => a + b, 0) * 10) / 10,
      etcdWatches: watches,
      sessions,
      switchover,
    };
  } finally {
    for (const w of workers) w.send('end');
    await Promise.all(workers.map((w) => w.until('ended').catch(() => undefined)));
    // Their stdin (this process's pipe) keeps them alive once ended.
    for (const w of workers) w.kill();
    await haproxy?.stop();
  }
}

export function costTable(rows: readonly CostRow[]): string {
  return table(
    [
      'mode',
      'application processes',
      "each member's Patroni, % of a core",
      'etcd (3 members), % of a core',
      'etcd watches',
      "pg-split's sessions per member",
      'switchover: longest write gap, failed writes',
    ],
    rows.map((r) => [
      r.mode,
      r.mode === 'HAProxy' ? 'any' : r.instances,
      r.patroniCpu.join(', '),
      r.etcdCpu,
      r.etcdWatches,
      r.sessions.join(', '),
      r.switchover === null ? '-' : `${r.switchover.longestGapMillis} ms, ${r.switchover.failed}`,
    ]),
  );
}

/** A bar chart (SVG) of what each mode costs Patroni (its busiest member) and etcd, in % of a core. */
export function costChart(rows: readonly CostRow[]): string {
  const bar = 22;
  const left = 190;
  const scale = 14; // px per % of a core
  const height = 40 + rows.length * (2 * bar + 14);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14">CPU of Patroni (busiest member) and of etcd (3 members), % of one core, by how the application processes read Patroni</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 36 + i * (2 * bar + 14);
    const label =
      r.mode === 'HAProxy' ? 'HAProxy (any number)' : r.mode === 'no client' ? 'no client' : `${r.mode}, ${r.instances} processes`;
    const patroni = Math.max(...r.patroniCpu);
    parts.push(`<text x="10" y="${y + bar}">${label}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, patroni * scale)}" height="${bar - 2}" fill="#c0392b"/>`);
    parts.push(`<text x="${left + patroni * scale + 6}" y="${y + bar - 7}">Patroni ${patroni} %</text>`);
    parts.push(`<rect x="${left}" y="${y + bar}" width="${Math.max(1, r.etcdCpu * scale)}" height="${bar - 2}" fill="#2980b9"/>`);
    parts.push(`<text x="${left + r.etcdCpu * scale + 6}" y="${y + 2 * bar - 7}">etcd ${r.etcdCpu} %</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}` && process.env['PGSPLIT_FLEET_ROWS'] !== undefined) {
  // Draws the chart again from rows a run printed (one JSON object per line on stderr), without measuring.
  const rows = readFileSync(process.env['PGSPLIT_FLEET_ROWS'], 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"mode"'))
    .map((l) => JSON.parse(l) as CostRow);
  writeFileSync('docs/fleet-patroni.svg', costChart(rows));
  console.log(costTable(rows));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.env['PGSPLIT_FLEET_SIZES'] ?? '50,150').split(',').map(Number);
  const cluster = await startPatroniCluster({ members: 3, etcdMembers: 3 });
  const rows: CostRow[] = [];
  try {
    const leader = await cluster.waitUntilSettled();
    await createFleetTable(leader, SECURE_ROLE);
    const add = (row: CostRow): void => {
      console.error(JSON.stringify(row));
      rows.push(row);
    };
    // PGSPLIT_FLEET_MODES: a comma-separated subset of the modes (a run cut short by the harness can be completed).
    const modes = (process.env['PGSPLIT_FLEET_MODES'] ?? 'no client,REST API,etcd watch,HAProxy').split(',');
    if (modes.includes('no client')) add(await measure(cluster, 'no client', 0));
    for (const mode of ['REST API', 'etcd watch'] as const)
      if (modes.includes(mode)) for (const n of sizes) add(await measure(cluster, mode, n));
    if (modes.includes('HAProxy')) add(await measure(cluster, 'HAProxy', 0));
  } finally {
    await cluster.destroy();
  }
  writeFileSync('docs/fleet-patroni.svg', costChart(rows));
  console.log(costTable(rows));
}
