/**
 * A fleet of application processes against one cluster (npm run bench:fleet,
 * docs/scaling.md): `instances` connectSplit instances spread over a few Node
 * processes (bench/fleet-worker.ts), started as a rolling deploy starts pods,
 * against a primary and two standbys with max_connections = 100. Measured on
 * the servers: pg-split's sessions on each node (pg_stat_activity) while they
 * start and once they are idle. Then a failover while every instance sleeps,
 * the old primary back read-write on its old timeline, and one write and one
 * read through each instance: where each ran, as the server says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { median, table } from './stats.js';

const APP = 'pgsplit-fleet';
const WORKER = fileURLToPath(new URL('./fleet-worker.js', import.meta.url));
const MAX_CONNECTIONS = 100;

export interface FleetResult {
  readonly instances: number;
  readonly processes: number;
  readonly idleAfterMillis: number;
  readonly startSeconds: number;
  /** Most sessions of pg-split's seen on any one node while the fleet started. */
  readonly peakSessions: number;
  /** Most sessions of pg-split's seen on any one node while every instance woke, one after another. */
  readonly peakWakeSessions: number;
  /** Sessions of pg-split's on each node once the fleet was idle. */
  readonly idleSessions: readonly number[];
  readonly heapPerInstanceBytes: number;
  readonly failover: {
    readonly writesOnNewPrimary: number;
    readonly writesElsewhere: number;
    readonly readsOnOldPrimary: number;
    readonly readsOnStandbys: number;
    readonly failed: readonly string[];
    readonly wakeMillisMedian: number;
    readonly wakeMillisWorst: number;
  };
}

/** The fleet's table: each write says which server took it and carries a token the client made, to find it again (ids can be reused after a failover). */
export const FLEET_TABLE = 'CREATE TABLE fleet_writes (id serial PRIMARY KEY, host text NOT NULL, token text)';

/** Creates the fleet's table on `leader`, writable by `role` when given (the benches' own role). */
export async function createFleetTable(leader: Pick<ClusterNode, 'query'>, role?: string): Promise<void> {
  await leader.query(FLEET_TABLE);
  if (role !== undefined) await leader.query(`GRANT ALL ON fleet_writes, fleet_writes_id_seq TO ${role}`);
}

export interface Round {
  readonly write: string;
  /** The write's token (process, instance, sequence). */
  readonly token: string;
  /** When the write was sent and acknowledged (epoch milliseconds). */
  readonly writeSentAt: number;
  readonly writeAt: number;
  readonly read: string;
  readonly readStandby: boolean;
  readonly millis: number;
}

export interface Line {
  readonly kind: 'started' | 'ready' | 'round' | 'round-done' | 'soak' | 'failover' | 'stopped' | 'ended';
  readonly result?: Round;
  readonly error?: string;
  /** Which of the process's instances made a soak round, or decided a failover. */
  readonly instance?: number;
  /** When a soak round failed, or a failover was decided (epoch milliseconds). */
  readonly at?: number;
  /** A failover's new writer. */
  readonly host?: string;
  /** On "stopped": how late the process's timers ran during the soak (event-loop delay) and the CPU it used. */
  readonly load?: { readonly loopDelayP99Millis: number; readonly loopDelayMaxMillis: number; readonly cpuMillis: number };
  readonly heapPerInstance?: number;
}

/** One Node process of the fleet (bench/fleet-worker.ts), driven by lines on its stdin. */
export class FleetWorker {
  readonly lines: Line[] = [];
  readonly #child: ChildProcess;
  #waiters: Array<() => void> = [];
  /** How the process ended, once it has. */
  #exit: string | null = null;

  constructor(job: object) {
    this.#child = spawn(process.execPath, ['--expose-gc', WORKER, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] });
    if (this.#child.stdout === null) throw new Error('no stdout');
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Line);
      this.#wake();
    });
    this.#child.on('exit', (code, signal) => {
      this.#exit = `exited (${signal ?? code})`;
      this.#wake();
    });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once `count` lines of `kind` came; rejects when the process ended before. */
  async until(kind: Line['kind'], count = 1): Promise<void> {
    while (this.lines.filter((l) => l.kind === kind).length < count) {
      if (this.#exit !== null) throw new Error(`a fleet process ${this.#exit} before its "${kind}" line`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  send(command: string): void {
    this.#child.stdin?.write(`${command}\n`);
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

/** The fleet's heap per instance: the median over its processes, each as it reported when ready. */
export function heapPerInstance(workers: readonly FleetWorker[]): number {
  return median(workers.map((w) => w.lines.find((l) => l.kind === 'ready')?.heapPerInstance ?? 0));
}

/** Sessions with this application_name on each server, as the servers count them (0 for one that does not answer). */
export function sessionsNamed(servers: ReadonlyArray<Pick<ClusterNode, 'query'>>, app: string): Promise<number[]> {
  return Promise.all(
    servers.map(async (server) => {
      const rows = await server
        .query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])
        .catch(() => [{ n: '0' }]);
      return Number(rows[0]?.n ?? 0);
    }),
  );
}

/** The most sessions of pg-split's on any one node, sampled every 250 ms until `done` settles. */
async function peakWhile(cluster: Cluster, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let finished = false;
  const settled = done.then(() => (finished = true));
  while (!finished) {
    peak = Math.max(peak, ...(await sessionsNamed(cluster.nodes, APP)));
    await Promise.race([settled, new Promise((r) => setTimeout(r, 250))]);
  }
  return peak;
}

async function failoverWhileIdle(cluster: Cluster): Promise<ClusterNode> {
  const [s1, s2] = cluster.standbys as [ClusterNode, ClusterNode];
  await cluster.primary.stop('fast');
  await s1.promote();
  await s2.follow(s1);
  // The old primary comes back read-write on its old timeline: a stale primary no instance may write to.
  await cluster.primary.start();
  return s1;
}

export async function measureFleet(instances: number, processes = 4, idleAfterMillis = 1000, startEveryMillis = 400): Promise<FleetResult> {
  const cluster = await startCluster({ standbys: 2, maxConnections: MAX_CONNECTIONS });
  const workers: FleetWorker[] = [];
  try {
    await createFleetTable(cluster.primary);
    await cluster.waitForReplication();
    const url = cluster.url(cluster.nodes, { application_name: APP });
    const started = Date.now();
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(instances / processes) + (p < instances % processes ? 1 : 0);
      workers.push(new FleetWorker({ url, count, startEveryMillis, idleAfterMillis }));
    }
    const peakSessions = await peakWhile(cluster, Promise.all(workers.map((w) => w.until('ready'))));
    const startSeconds = Math.round((Date.now() - started) / 100) / 10;
    let idleSessions = await sessionsNamed(cluster.nodes, APP);
    const idleDeadline = Date.now() + 60_000;
    while (idleSessions.some((n) => n > 0) && Date.now() < idleDeadline) {
      await new Promise((r) => setTimeout(r, 250));
      idleSessions = await sessionsNamed(cluster.nodes, APP);
    }
    const newPrimary = await failoverWhileIdle(cluster);
    const old = cluster.primary.host;
    for (const w of workers) w.send('round');
    const peakWakeSessions = await peakWhile(cluster, Promise.all(workers.map((w) => w.until('round-done'))));
    const rounds = workers.flatMap((w) => w.lines.filter((l) => l.kind === 'round'));
    const results = rounds.flatMap((l) => (l.result === undefined ? [] : [l.result]));
    const wakes = results.map((r) => r.millis).sort((a, b) => a - b);
    for (const w of workers) w.send('end');
    await Promise.all(workers.map((w) => w.until('ended')));
    return {
      instances,
      processes,
      idleAfterMillis,
      startSeconds,
      peakSessions,
      peakWakeSessions,
      idleSessions,
      heapPerInstanceBytes: heapPerInstance(workers),
      failover: {
        writesOnNewPrimary: results.filter((r) => r.write === newPrimary.host).length,
        writesElsewhere: results.filter((r) => r.write !== newPrimary.host).length,
        readsOnOldPrimary: results.filter((r) => r.read === old).length,
        readsOnStandbys: results.filter((r) => r.readStandby).length,
        failed: rounds.flatMap((l) => (l.error === undefined ? [] : [l.error])),
        wakeMillisMedian: median(wakes),
        wakeMillisWorst: wakes.at(-1) ?? 0,
      },
    };
  } finally {
    for (const w of workers) w.kill();
    await cluster.destroy();
  }
}

export function fleetTable(results: readonly FleetResult[]): string {
  return table(
    [
      'instances (processes)',
      'started in',
      'peak sessions on a node while starting',
      'sessions per node once idle',
      'peak sessions on a node while waking',
      'heap per instance',
      'after a failover while idle: writes on the new primary / elsewhere',
      'reads on the stale old primary / on standbys',
      'failed',
      'first write and read after waking, median / worst',
    ],
    results.map((r) => [
      `${r.instances} (${r.processes})`,
      `${r.startSeconds} s`,
      r.peakSessions,
      r.idleSessions.join(', '),
      r.peakWakeSessions,
      `${Math.round(r.heapPerInstanceBytes / 1024)} KiB`,
      `${r.failover.writesOnNewPrimary} / ${r.failover.writesElsewhere}`,
      `${r.failover.readsOnOldPrimary} / ${r.failover.readsOnStandbys}`,
      r.failover.failed.length,
      `${r.failover.wakeMillisMedian} / ${r.failover.wakeMillisWorst} ms`,
    ]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.env['PGSPLIT_FLEET_SIZES'] ?? '1,100,1000').split(',').map(Number);
  const results: FleetResult[] = [];
  for (const n of sizes) {
    const result = await measureFleet(n, Math.min(4, n));
    console.error(JSON.stringify(result));
    results.push(result);
  }
  console.log(fleetTable(results));
}
