import { startPatroniCluster, type PatroniCluster } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';
import type { TimelineDiscardedEvent } from '../src/split/watch/watch-events.js';
import { acknowledgedRows, invariantChecks } from './checks.js';
import { clock, RECOVERY_LIMIT_MILLIS, wantsAnotherFault, type ChaosRunFigures, type FaultBudget, type FaultRecord } from './fault-loop.js';
import { writesOffPrimary, type WriteAck } from './invariants.js';
import { CHAOS_TABLE, MixedLoad } from './mixed-load.js';
import { applyPatroniFault, patroniFaultLabel, planPatroniFault, type PatroniFaultPlan } from './patroni-faults.js';
import { handleCount, settledHandles, watchProcess } from './process-watch.js';
import { Random } from './random.js';
import { LockTenures } from './lock-tenures.js';

export interface PatroniChaosOptions extends FaultBudget {
  readonly seed: number;
  /** Patroni's synchronous_mode (on etcd's v2 API: Patroni 3.0.2's etcd3 client can give a thawed leader its lock back). */
  readonly synchronous: boolean;
  readonly log?: (line: string) => void;
  /** The first member's loopback address (see startPatroniCluster). @default '127.0.0.2' */
  readonly firstAddress?: string;
}

interface PatroniFaultRecord extends Omit<FaultRecord, 'plan' | 'promoted'> {
  readonly patroniPlan: PatroniFaultPlan;
  /** Patroni's leader after the fault, when it changed. */
  readonly newLeader: string | undefined;
}

export interface PatroniChaosReport extends ChaosRunFigures<PatroniChaosOptions, PatroniFaultRecord> {
  /** Rows acknowledged by a member within LOCK_MOVE_GRACE_MILLIS after Patroni's lock moved from it. */
  readonly acknowledgedAfterLockMoved: number;
  /** Acknowledged rows missing from the final leader, by cause. */
  readonly lostOnDiscardedTimeline: number;
  readonly lostOtherwise: number;
  readonly lost: readonly LostRows[];
  readonly discarded: readonly TimelineDiscardedEvent[];
  readonly leaderChanges: number;
}

const PATRONI_APPLICATION_NAME = 'pgsplit-patroni-chaos';

/**
 * A write sent to the member that has just lost Patroni's lock, this soon
 * after the lock moved, is counted apart rather than as a violation: one
 * round of pg-split's Patroni poll (intervalMillis + timeoutMillis, 1 s each
 * by default), the least time in which a client that asks Patroni can learn it.
 */
export const LOCK_MOVE_GRACE_MILLIS = 2000;

async function sessionsNamed(cluster: PatroniCluster, name: string): Promise<number> {
  let total = 0;
  for (const member of cluster.members) {
    const rows = await member
      .query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name])
      .catch(() => [{ n: '0' }]);
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}

async function noSessionsLeft(cluster: PatroniCluster, name: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const n = await sessionsNamed(cluster, name);
    if (n === 0 || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Acknowledged rows missing from the final leader, grouped by the server and timeline that acknowledged them. */
interface LostRows {
  readonly server: string;
  readonly timeline: number;
  readonly rows: number;
  /** On a timeline pg-split reported discarded, on a node that had it. */
  readonly discarded: boolean;
}

function lostRows(
  acks: readonly WriteAck[],
  present: ReadonlySet<number>,
  discarded: readonly TimelineDiscardedEvent[],
  hosts: readonly string[],
): LostRows[] {
  const onDiscarded = (ack: WriteAck): boolean =>
    discarded.some((d) => d.timeline === ack.timeline && d.nodes.some((i) => hosts[i] === ack.server));
  const groups = new Map<string, LostRows>();
  for (const ack of acks) {
    const missing = ack.ids.filter((id) => !present.has(id)).length;
    if (missing === 0) continue;
    const key = `${ack.server}/${ack.timeline}`;
    const group = groups.get(key) ?? { server: ack.server, timeline: ack.timeline, rows: 0, discarded: onDiscarded(ack) };
    groups.set(key, { ...group, rows: group.rows + missing });
  }
  return [...groups.values()].sort((a, b) => a.timeline - b.timeline);
}

async function faultLoop(
  cluster: PatroniCluster,
  load: MixedLoad,
  seed: number,
  budget: FaultBudget,
  log: (line: string) => void,
): Promise<PatroniFaultRecord[]> {
  const random = new Random(seed);
  const faults: PatroniFaultRecord[] = [];
  const startedAt = Date.now();
  while (wantsAnotherFault(budget, startedAt, faults.length)) {
    const plan = planPatroniFault(random);
    const before = await cluster.leader();
    const injectedAt = Date.now();
    const member = await applyPatroniFault(cluster, plan);
    const healedAt = Date.now();
    const after = await cluster.leader();
    const [wroteAt, readAt] = await Promise.all([
      load.successAfter(['write', 'transaction'], healedAt, RECOVERY_LIMIT_MILLIS),
      load.successAfter(['read'], healedAt, RECOVERY_LIMIT_MILLIS),
    ]);
    const record: PatroniFaultRecord = {
      label: patroniFaultLabel(plan),
      patroniPlan: plan,
      node: member.name,
      newLeader: after !== null && after !== before ? after.name : undefined,
      injectedAt,
      healedAt,
      writeRecoveryMillis: wroteAt === null ? null : wroteAt - healedAt,
      readRecoveryMillis: readAt === null ? null : readAt - healedAt,
    };
    faults.push(record);
    log(
      `#${faults.length} ${record.label} on ${record.node}${record.newLeader === undefined ? '' : `, Patroni's leader now ${record.newLeader}`} (${clock(injectedAt)} to ${clock(healedAt)}): writes back ${record.writeRecoveryMillis ?? 'never'} ms, reads ${record.readRecoveryMillis ?? 'never'} ms after the heal`,
    );
  }
  return faults;
}

/**
 * The chaos run under Patroni: 3 members, connectSplit with the `patroni`
 * option under the mixed load, and random faults for the options' budget, every
 * failover performed by Patroni. Invariants are checked from the servers,
 * who led when from Patroni's leader lock in etcd.
 */
export async function runPatroniChaos(options: PatroniChaosOptions): Promise<PatroniChaosReport> {
  const log = options.log ?? (() => undefined);
  const cluster = await startPatroniCluster({
    members: 3,
    synchronousMode: options.synchronous,
    dcs: options.synchronous ? 'etcd' : 'etcd3',
    firstAddress: options.firstAddress ?? '127.0.0.2',
    log: (line) => log(`harness: ${line}`),
  });
  const watch = watchProcess();
  const tenures = new LockTenures(cluster, log);
  try {
    const leader = await cluster.waitUntilSettled();
    await leader.query(CHAOS_TABLE);
    await tenures.read();
    tenures.start();
    const handlesBefore = handleCount();
    const split: SplitCluster = await connectSplit(cluster.url(cluster.members, { application_name: PATRONI_APPLICATION_NAME }), {
      patroni: { port: cluster.apiPort },
    });
    const discarded: TimelineDiscardedEvent[] = [];
    split.on('timeline-discarded', (e) => {
      discarded.push(e);
      log(
        `pg-split: timeline ${e.timeline} discarded (back on ${e.now}, on ${e.evidence === 'servers' ? "the servers'" : "the orchestrator's"} word), ${e.acknowledgedWrites} writes acknowledged there`,
      );
    });
    const load = new MixedLoad(split);
    const startedAt = Date.now();
    let faults: PatroniFaultRecord[];
    load.start();
    try {
      faults = await faultLoop(cluster, load, options.seed, options, log);
    } finally {
      await load.stop();
      await split.end();
      tenures.stop();
    }
    const faultMillis = Date.now() - startedAt;
    const sessionsLeft = await noSessionsLeft(cluster, PATRONI_APPLICATION_NAME);
    const handlesLeft = await settledHandles(handlesBefore);
    const final = await cluster.heal();
    const rows = await final.query<{ id: string }>('SELECT id::text FROM chaos_writes');
    const present = new Set(rows.map((r) => Number(r.id)));
    const hosts = cluster.members.map((m) => m.host);
    const lost = lostRows(load.acks, present, discarded, hosts);
    const lostCount = (discardedOnly: boolean): number => lost.filter((l) => l.discarded === discardedOnly).reduce((n, l) => n + l.rows, 0);
    const checks = invariantChecks({
      synchronous: options.synchronous,
      load,
      tenures: tenures.list(),
      faults,
      matching: { graceMillis: LOCK_MOVE_GRACE_MILLIS },
      present,
      sessionsLeft,
      handlesBefore,
      handlesLeft,
      problems: watch.problems,
      applicationName: PATRONI_APPLICATION_NAME,
      nodes: cluster.members.length,
    });
    const afterLockMoved =
      acknowledgedRows(writesOffPrimary(load.acks, tenures.list())) -
      acknowledgedRows(writesOffPrimary(load.acks, tenures.list(), { graceMillis: LOCK_MOVE_GRACE_MILLIS }));
    return {
      options: { durationMillis: options.durationMillis, seed: options.seed, synchronous: options.synchronous },
      faultMillis,
      faults,
      done: { ...load.done },
      failed: { ...load.failed },
      failures: [...load.failures.values()].sort((a, b) => b.count - a.count),
      acknowledgedRows: acknowledgedRows(load.acks),
      acknowledgedAfterLockMoved: afterLockMoved,
      lostOnDiscardedTimeline: lostCount(true),
      lostOtherwise: lostCount(false),
      lost,
      discarded,
      leaderChanges: tenures.changes,
      checks,
    };
  } finally {
    tenures.stop();
    watch.release();
    await cluster.destroy();
  }
}
