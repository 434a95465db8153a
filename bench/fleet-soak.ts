/**
 * A thousand application processes for ten minutes (npm run bench:fleet-soak,
 * docs/scaling.md). One Patroni cluster (3 members on 3 etcd members, ttl 10,
 * loop_wait 2, max_connections 100); N connectSplit instances over 4 Node
 * processes (bench/fleet-worker.ts), started as a rolling deploy starts pods,
 * then under a light load (each instance a write and a read at random times,
 * a mean of MEAN_MILLIS apart; idle in between). What is measured: whether
 * Patroni kept its leader (the leader key's create revision in etcd, every
 * line of Patroni's logs that is not a routine HA loop, and the longest gap
 * between two of the leader's HA loops), pg-split's sessions on each member
 * (most seen), Patroni's and etcd's CPU, failed statements. Then a planned
 * switchover while the fleet and HOT busy instances run: how long after the
 * leader key moved each busy instance wrote on the new leader, and whether
 * any write was acknowledged on the old leader after the new leader's first.
 *
 * PGSPLIT_SOAK_INSTANCES (1000), PGSPLIT_SOAK_MINUTES (10),
 * PGSPLIT_SOAK_MODE ('etcd watch' or 'REST API').
 */
import { readFileSync, statSync } from 'node:fs';
import { SECURE_PASSWORD, SECURE_ROLE, startPatroniCluster, type PatroniCluster, type PatroniMember } from '@pg-split/harness';
import type { SplitOptions } from '../src/split/options.js';
import { createFleetTable, FleetWorker, heapPerInstance, sessionsNamed, type Line } from './fleet.js';
import { LockHistory } from './fleet-faults.js';
import { cpuDuring } from './proc-cpu.js';
import { median, table } from './stats.js';

const APP = 'pgsplit-fleet-soak';
const PROCESSES = 4;
const MEAN_MILLIS = 180_000;
const IDLE_AFTER_MILLIS = 2000;
const HOT = 10;
const HOT_MEAN_MILLIS = 100;
const ROLLOUT_MILLIS = 120_000;

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

type Mode = 'etcd watch' | 'REST API';

interface SoakResult {
  readonly mode: Mode;
  readonly instances: number;
  readonly minutes: number;
  readonly startedSeconds: number;
  readonly heapPerInstanceBytes: number;
  readonly leaderKept: boolean;
  /** Lines of Patroni's logs, over the soak, that are not a routine HA loop. */
  readonly patroniEvents: readonly string[];
  /** The longest time between two of the leader's HA loops over the soak. */
  readonly longestLoopGapMillis: number;
  readonly peakSessions: readonly number[];
  readonly patroniCpu: readonly number[];
  readonly etcdCpu: number;
  readonly rounds: number;
  readonly failed: readonly string[];
  readonly readsOnStandbys: number;
  readonly switchover: {
    readonly busyToNewLeaderMillis: { readonly median: number; readonly worst: number };
    readonly writesOnOldAfterNew: number;
    readonly failed: readonly string[];
  };
}

/** Most sessions of pg-split's seen on each member, sampled every 2 s until `done()` is true. */
async function sampleSessions(cluster: PatroniCluster, peak: number[], done: () => boolean): Promise<void> {
  while (!done()) {
    const now = await sessionsNamed(cluster.members, APP);
    now.forEach((n, i) => (peak[i] = Math.max(peak[i] ?? 0, n)));
    await sleep(2000);
  }
}

/** A Patroni log's lines written after `offset` bytes. */
function logSince(member: PatroniMember, offset: number): string[] {
  return readFileSync(member.logPath, 'utf8').slice(offset).split('\n').filter(Boolean);
}

/** Patroni's own lines (its log format: `2026-12-02 13:20:01,123 INFO: ...`); the file also holds PostgreSQL's. */
const PATRONI_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+: /;

/** Lines of an HA loop that did nothing: `no action. I am (m1), the leader with the lock` and its follower form. */
const ROUTINE = /no action\. I am \(\w+\), (the leader with the lock|a secondary, and following a leader)/;

/** The longest gap between two routine leader loops in these lines (Patroni's asctime: `2026-12-02 13:20:01,123`). */
function longestLoopGap(lines: readonly string[]): number {
  const times = lines
    .filter((l) => PATRONI_LINE.test(l) && l.includes('the leader with the lock'))
    .map((l) => Date.parse(`${l.slice(0, 23).replace(' ', 'T').replace(',', '.')}Z`))
    .filter((t) => !Number.isNaN(t));
  return times.slice(1).reduce((gap, t, i) => Math.max(gap, t - (times[i] ?? t)), 0);
}

const soakLines = (workers: readonly FleetWorker[]): Line[] => workers.flatMap((w) => w.lines.filter((l) => l.kind === 'soak'));

/** A planned switchover while the fleet and HOT busy instances run. */
async function switchoverUnderFleet(
  cluster: PatroniCluster,
  hot: FleetWorker,
  fleet: readonly FleetWorker[],
): Promise<SoakResult['switchover']> {
  const old = await cluster.waitUntilSettled();
  hot.send(`soak ${HOT_MEAN_MILLIS}`);
  await sleep(5000);
  const lock = new LockHistory(cluster);
  await cluster.switchover();
  const movedAt = (await lock.movedFrom(old.name)).at;
  await lock.stop();
  const leader = await cluster.waitUntilSettled({ timeoutMillis: 120_000 });
  await sleep(10_000);
  hot.send('stop');
  await hot.until('stopped');
  const busy = hot.lines.filter((l) => l.kind === 'soak');
  const toNew = [...new Set(busy.map((l) => l.instance))].map((instance) => {
    const first = busy.find((l) => l.instance === instance && l.result?.write === leader.host && l.result.writeAt >= movedAt);
    return first?.result === undefined ? Infinity : first.result.writeAt - movedAt;
  });
  toNew.sort((a, b) => a - b);
  const all = [...busy, ...soakLines(fleet)].flatMap((l) => (l.result === undefined ? [] : [l.result]));
  const firstOnNew = Math.min(...all.filter((r) => r.write === leader.host && r.writeAt >= movedAt).map((r) => r.writeAt));
  return {
    busyToNewLeaderMillis: { median: median(toNew), worst: toNew.at(-1) ?? Infinity },
    writesOnOldAfterNew: all.filter((r) => r.write === old.host && r.writeAt > firstOnNew).length,
    failed: busy.flatMap((l) => (l.error === undefined ? [] : [l.error])),
  };
}

async function soak(cluster: PatroniCluster, mode: Mode, instances: number, minutes: number): Promise<SoakResult> {
  const options: SplitOptions = mode === 'REST API' ? { patroni: { port: cluster.apiPort } } : { patroni: { etcd: cluster.etcdOptions() } };
  const url = cluster.url(cluster.members, { application_name: APP }).replace('postgres@', `${SECURE_ROLE}:${SECURE_PASSWORD}@`);
  const leader = await cluster.waitUntilSettled();
  const lockBefore = await cluster.leaderLock();
  const offsets = cluster.members.map((m) => statSync(m.logPath).size);
  const peak = cluster.members.map(() => 0);
  let sampling = true;
  const sampler = sampleSessions(cluster, peak, () => !sampling);
  const fleet: FleetWorker[] = [];
  const startEveryMillis = Math.round((ROLLOUT_MILLIS * PROCESSES) / Math.max(1, instances));
  const started = Date.now();
  for (let p = 0; p < PROCESSES; p++) {
    const count = Math.floor(instances / PROCESSES) + (p < instances % PROCESSES ? 1 : 0);
    fleet.push(new FleetWorker({ url, count, startEveryMillis, idleAfterMillis: IDLE_AFTER_MILLIS, options }));
  }
  const hot = new FleetWorker({ url, count: HOT, startEveryMillis: 100, idleAfterMillis: IDLE_AFTER_MILLIS, options });
  try {
    await Promise.all([...fleet, hot].map((w) => w.until('ready')));
    const startedSeconds = Math.round((Date.now() - started) / 100) / 10;
    for (const w of fleet) w.send(`soak ${MEAN_MILLIS}`);
    const pids = [...cluster.members.map((m) => m.patroniPid ?? 0), ...cluster.etcd.members.map((m) => m.daemon.pid ?? 0)];
    const cpu = await cpuDuring(pids, sleep(minutes * 60_000));
    const lockAfter = await cluster.leaderLock();
    const logs = cluster.members.map((m, i) => logSince(m, offsets[i] ?? 0));
    const patroniEvents = logs.flatMap((lines, i) =>
      lines.filter((l) => PATRONI_LINE.test(l) && !ROUTINE.test(l)).map((l) => `${cluster.members[i]?.name}: ${l}`),
    );
    const longestLoopGapMillis = longestLoopGap(logs[cluster.members.indexOf(leader)] ?? []);
    const soaked = soakLines(fleet);
    const switchover = await switchoverUnderFleet(cluster, hot, fleet);
    for (const w of fleet) w.send('stop');
    await Promise.all(fleet.map((w) => w.until('stopped')));
    return {
      mode,
      instances,
      minutes,
      startedSeconds,
      heapPerInstanceBytes: heapPerInstance(fleet),
      leaderKept: lockBefore !== null && lockAfter?.holder === lockBefore.holder && lockAfter.createRevision === lockBefore.createRevision,
      patroniEvents,
      longestLoopGapMillis,
      peakSessions: peak,
      patroniCpu: cpu.slice(0, cluster.members.length),
      etcdCpu: Math.round(cpu.slice(cluster.members.length).reduce((a, b) => a + b, 0) * 10) / 10,
      rounds: soaked.filter((l) => l.result !== undefined).length,
      failed: soaked.flatMap((l) => (l.error === undefined ? [] : [l.error])),
      readsOnStandbys: soaked.filter((l) => l.result?.readStandby === true).length,
      switchover,
    };
  } finally {
    sampling = false;
    await sampler;
    for (const w of [...fleet, hot]) w.send('end');
    await Promise.all([...fleet, hot].map((w) => w.until('ended').catch(() => undefined)));
    // Their stdin (this process's pipe) keeps them alive once ended.
    for (const w of [...fleet, hot]) w.kill();
  }
}

export function soakTable(results: readonly SoakResult[]): string {
  return table(
    [
      'mode',
      'instances (started in)',
      'minutes',
      'leader kept (lock never retaken)',
      'Patroni log lines other than a routine HA loop',
      "longest gap between the leader's HA loops",
      "pg-split's sessions per member, most seen",
      "each member's Patroni, % of a core",
      'etcd (3 members), % of a core',
      'rounds (write + read), failed, reads on standbys',
      'switchover: busy instances on the new leader after the key moved, median / worst',
      'writes on the old leader after the new one',
      'heap per instance',
    ],
    results.map((r) => [
      r.mode,
      `${r.instances} (${r.startedSeconds} s)`,
      r.minutes,
      r.leaderKept ? 'yes' : 'NO',
      r.patroniEvents.length,
      `${r.longestLoopGapMillis} ms`,
      r.peakSessions.join(', '),
      r.patroniCpu.join(', '),
      r.etcdCpu,
      `${r.rounds}, ${r.failed.length}, ${r.readsOnStandbys}`,
      `${r.switchover.busyToNewLeaderMillis.median} / ${r.switchover.busyToNewLeaderMillis.worst} ms`,
      r.switchover.writesOnOldAfterNew,
      `${Math.round(r.heapPerInstanceBytes / 1024)} KiB`,
    ]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const instances = Number(process.env['PGSPLIT_SOAK_INSTANCES'] ?? 1000);
  const minutes = Number(process.env['PGSPLIT_SOAK_MINUTES'] ?? 10);
  const mode = (process.env['PGSPLIT_SOAK_MODE'] ?? 'etcd watch') as Mode;
  const cluster = await startPatroniCluster({ members: 3, etcdMembers: 3, maxConnections: 100 });
  try {
    const leader = await cluster.waitUntilSettled();
    await createFleetTable(leader, SECURE_ROLE);
    const result = await soak(cluster, mode, instances, minutes);
    console.error(JSON.stringify(result));
    console.log(soakTable([result]));
  } finally {
    await cluster.destroy();
  }
}
