/**
 * Faults under a fleet (bench/fleet-matrix.ts): a planned switchover and a
 * leader frozen past its TTL, each while the fleet runs its light load and
 * HOT more instances write in a tight loop. What is measured, as the servers
 * say: how long after the leader key moved each busy instance wrote on the
 * new leader, writes the old leader acknowledged after the new leader's
 * first, failed rounds, and acknowledged writes missing once the cluster
 * settled (lost).
 */
import { appendFileSync } from 'node:fs';
import type { PatroniCluster, PatroniMember } from '@pg-split/harness';
import type { FleetWorker, Line, Round } from './fleet.js';
import { machineBusyDuring } from './proc-cpu.js';
import { median } from './stats.js';

export const HOT = 10;
const HOT_MEAN_MILLIS = 100;

export type Fault = 'switchover' | 'frozen leader';

export interface FaultResult {
  readonly fault: Fault;
  /** Who held the leader key in turn, from the fault until the cluster settled (`m1 → none → m2`). */
  readonly lockPath: string;
  /** The busy instances' failed rounds, by error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** How long after the leader key moved the new leader's PostgreSQL first answered as read-write (Patroni's promotion). */
  readonly promotedAfterMillis: number;
  /** Each busy instance's first write on the new leader after the leader key moved: median and worst (Infinity: never). */
  readonly busyToNewLeaderMillis: { readonly median: number; readonly worst: number };
  /** When each busy instance decided that the new leader is its writer (its `failover` event), after the key moved: median and worst. */
  readonly busyDecidedMillis: { readonly median: number; readonly worst: number };
  /** How late the busy instances' process ran its timers during the fault (event-loop delay, p99 and worst, ms). */
  readonly busyLoopDelayMillis: { readonly p99: number; readonly max: number };
  /** How busy the machine's cores were in the 2 s after the key moved, % (all cores). */
  readonly machineBusyPercent: number;
  readonly writesOnOldAfterNew: number;
  /** Rounds (a write, then a read) that failed from the fault until the cluster settled again, busy instances and fleet. */
  readonly failedRounds: number;
  /** Writes acknowledged during the fault that the settled cluster does not have. */
  readonly lostWrites: number;
}

/** Median and worst of per-instance times (Infinity: never). */
const spread = (millis: readonly number[]): { median: number; worst: number } => ({ median: median(millis), worst: Math.max(...millis) });

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

/** A worker's error line's code (`PGSPLIT_...`, a SQLSTATE), or its first words when it has none. */
const errorCode = (error: string): string =>
  error.startsWith(' ') ? error.trim().split(' ').slice(0, 4).join(' ') : (error.split(' ')[0] ?? '');

/** Who held the leader key, polled every 20 ms from start() until stop(): each change, with its time. */
export class LockHistory {
  readonly changes: Array<{ readonly at: number; readonly holder: string | null }> = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(cluster: PatroniCluster) {
    this.#done = (async () => {
      while (this.#running) {
        const lock = await cluster.leaderLock().catch(() => undefined);
        const holder = lock === undefined ? undefined : (lock?.holder ?? null);
        if (holder !== undefined && holder !== this.changes.at(-1)?.holder) this.changes.push({ at: Date.now(), holder });
        await sleep(20);
      }
    })();
  }

  /** The first time the key named a member other than `from`, and which; resolves once it has. */
  async movedFrom(from: string): Promise<{ at: number; holder: string }> {
    for (;;) {
      const moved = this.changes.find((c) => c.holder !== null && c.holder !== from);
      if (moved?.holder != null) return { at: moved.at, holder: moved.holder };
      await sleep(20);
    }
  }

  /** When `member`'s PostgreSQL first answered as read-write at or after `from` (polled every 10 ms, 30 s at most), as the server says. */
  static async readWriteAt(member: PatroniMember, from: number): Promise<number> {
    const deadline = from + 30_000;
    while (Date.now() < deadline) {
      const rows = await member.query<{ standby: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS standby').catch(() => []);
      if (rows[0]?.standby === false) return Date.now();
      await sleep(10);
    }
    return Infinity;
  }

  /** The holders in turn: `m1 → none → m2`. */
  path(): string {
    return this.changes.map((c) => c.holder ?? 'none').join(' → ');
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

const linesSince = (workers: readonly FleetWorker[], kind: Line['kind'], index: number[]): Line[] =>
  workers.flatMap((w, i) => w.lines.slice(index[i] ?? 0).filter((l) => l.kind === kind));

/** The tokens of `rounds` that `leader` does not have. */
async function missing(leader: PatroniMember, rounds: readonly Round[]): Promise<number> {
  const tokens = rounds.map((r) => r.token);
  const rows = await leader.query<{ token: string }>('SELECT token FROM fleet_writes WHERE token = ANY($1)', [tokens]);
  const present = new Set(rows.map((r) => r.token));
  return tokens.filter((t) => !present.has(t)).length;
}

/** Makes the fault; resolves when the leader key moved (to whom) and after the fault is over (thawed). */
async function inject(
  cluster: PatroniCluster,
  fault: Fault,
  old: PatroniMember,
  lock: LockHistory,
  onMoved: (to: { at: number; holder: string }) => void,
): Promise<{ at: number; holder: string }> {
  const moved = lock.movedFrom(old.name).then((to) => {
    onMoved(to);
    return to;
  });
  if (fault === 'switchover') {
    await cluster.switchover();
    return moved;
  }
  // Frozen right after a renewal: the lock has its whole TTL to run, whatever the phase of Patroni's loop.
  await cluster.lockJustRenewed();
  // Patroni and the postmaster stopped, the backends serving: sessions open on the old leader keep answering.
  await old.freeze('patroni-and-postmaster');
  const to = await moved;
  await sleep(5000);
  old.thaw();
  return to;
}

/** `fault` while `fleet` runs its load and `hot` writes in a tight loop; the cluster healed after it. */
export async function faultUnderFleet(
  cluster: PatroniCluster,
  fault: Fault,
  hot: FleetWorker,
  fleet: readonly FleetWorker[],
): Promise<FaultResult> {
  const old = await cluster.heal(300_000);
  const workers = [hot, ...fleet];
  const from = workers.map((w) => w.lines.length);
  hot.send(`soak ${HOT_MEAN_MILLIS}`);
  await sleep(5000);
  const lock = new LockHistory(cluster);
  let promoted: Promise<number> = Promise.resolve(Infinity);
  let machineBusy: Promise<number> = Promise.resolve(NaN);
  const moved = await inject(cluster, fault, old, lock, (to) => {
    promoted = LockHistory.readWriteAt(cluster.member(to.holder), to.at);
    machineBusy = machineBusyDuring(sleep(2000));
  });
  const promotedAt = promoted;
  const leader = await cluster.heal(300_000);
  await sleep(5000);
  await lock.stop();
  hot.send('stop');
  await hot.until('stopped', hot.lines.filter((l) => l.kind === 'stopped').length + 1);
  const busy = linesSince([hot], 'soak', [from[0] ?? 0]);
  const all = linesSince(workers, 'soak', from);
  const acked = all.flatMap((l) => (l.result === undefined ? [] : [l.result]));
  const newHost = cluster.member(moved.holder).host;
  const failovers = linesSince([hot], 'failover', [from[0] ?? 0]);
  const instances = [...new Set(busy.map((l) => l.instance))];
  const afterMoved = (at: number | undefined): number => (at === undefined ? Infinity : at - moved.at);
  const toNew = instances.map((i) =>
    afterMoved(busy.find((l) => l.instance === i && l.result?.write === newHost && l.result.writeAt >= moved.at)?.result?.writeAt),
  );
  const decided = instances.map((i) => afterMoved(failovers.find((l) => l.instance === i && l.host === newHost)?.at));
  const load = hot.lines.filter((l) => l.kind === 'stopped').at(-1)?.load;
  const firstOnNew = Math.min(...acked.filter((r) => r.write === newHost && r.writeAt >= moved.at).map((r) => r.writeAt));
  const errors: Record<string, number> = {};
  for (const l of busy) if (l.error !== undefined) errors[errorCode(l.error)] = (errors[errorCode(l.error)] ?? 0) + 1;
  // PGSPLIT_FLEET_DUMP=<file>: every busy round of the fault, and who held the lock when, for a closer look.
  const dump = process.env['PGSPLIT_FLEET_DUMP'];
  if (dump !== undefined)
    appendFileSync(dump, `${JSON.stringify({ fault, old: old.host, moved, newHost, changes: lock.changes, busy, failovers, load })}\n`);
  return {
    fault,
    lockPath: lock.path(),
    errors,
    busyToNewLeaderMillis: spread(toNew),
    busyDecidedMillis: spread(decided),
    busyLoopDelayMillis: { p99: load?.loopDelayP99Millis ?? NaN, max: load?.loopDelayMaxMillis ?? NaN },
    machineBusyPercent: await machineBusy,
    promotedAfterMillis: (await promotedAt) - moved.at,
    writesOnOldAfterNew: acked.filter((r) => r.write === old.host && r.writeAt > firstOnNew).length,
    failedRounds: all.filter((l) => l.error !== undefined).length,
    lostWrites: await missing(leader, acked),
  };
}
