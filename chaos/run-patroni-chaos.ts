import { startPatroniCluster, type PatroniCluster } from '../src/cluster/index.js';
import { queryNode } from '../src/cluster/node-query.js';
import { WRITE_TIMELINE_SQL } from '../src/lsn.js';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';
import type { TimelineDiscardedEvent } from '../src/split/watch-state.js';
import { acknowledgedRows, invariantChecks } from './checks.js';
import { clock, RECOVERY_LIMIT_MILLIS, type ChaosRunFigures, type FaultRecord } from './fault-loop.js';
import { writesOffPrimary, type WriteAck } from './invariants.js';
import { CHAOS_TABLE, MixedLoad } from './mixed-load.js';
import { applyPatroniFault, patroniFaultLabel, planPatroniFault, type PatroniFaultPlan } from './patroni-faults.js';
import { handleCount, settledHandles, watchProcess } from './process-watch.js';
import { Random } from './random.js';
import { TenureLog, type Tenure } from './tenure.js';

export interface PatroniChaosOptions {
  readonly durationMillis: number;
  readonly seed: number;
  /** Patroni's synchronous_mode (on etcd's v2 API: Patroni 3.0.2's etcd3 client can give a thawed leader its lock back). */
  readonly synchronous: boolean;
  readonly log?: (line: string) => void;
}

export interface PatroniFaultRecord extends Omit<FaultRecord, 'plan' | 'promoted'> {
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

export const PATRONI_APPLICATION_NAME = 'pgsplit-patroni-chaos';

/** One poll's question to the leader's server. */
const POLL_QUERY_LIMITS = { connectMillis: 500, queryMillis: 500 } as const;

/**
 * A write sent to the member that has just lost Patroni's lock, this soon
 * after the lock moved, is counted apart rather than as a violation: one
 * round of pg-split's Patroni poll (intervalMillis + timeoutMillis, 1 s each
 * by default), the least time in which a client that asks Patroni can learn it.
 */
export const LOCK_MOVE_GRACE_MILLIS = 2000;

/** Patroni restarts a crashed leader and promotes it again: a newer timeline on the leader's host is the same tenure (the poll may miss it). */
const SAME_LEADER = { newerTimelineOfSameHost: true } as const;

/** How far Patroni's /cluster view can lag the DCS: one loop_wait of the harness (2 s). */
const VIEW_LAG_MILLIS = 2000;

/**
 * Who was Patroni's leader when, as Patroni's own view says (polled every
 * 200 ms), on the timeline its server reports: a new tenure begins one
 * loop_wait before the poll that last saw the old one, so an
 * acknowledgement made while the view lagged is never put outside its
 * leader's tenure. A leaderless view ends nothing: a frozen
 * leader stays the primary until another member leads.
 */
class PatroniTenures {
  readonly tenures = new TenureLog();
  #last = '';
  #lastPoll = 0;
  #timer: NodeJS.Timeout | null = null;
  changes = 0;

  constructor(private readonly cluster: PatroniCluster, private readonly log: (line: string) => void) {}

  async poll(): Promise<void> {
    const now = Date.now();
    const view = await this.cluster.view().catch(() => null);
    // The old leader's tenure ends when this view was given, not when it was asked for: as late as the view allows.
    const seenAt = Date.now();
    const name = view?.members.find((m) => m.role === 'leader')?.name;
    const leader = name === undefined ? undefined : this.cluster.members.find((m) => m.name === name);
    // The timeline as the leader's server says (Patroni's view can lag a promotion).
    // Bounded: a frozen leader must not stall the polls (a whole tenure of the member promoted meanwhile would go unseen).
    const rows = leader === undefined ? [] : await queryNode<{ standby: boolean; timeline: number }>(leader, `SELECT pg_is_in_recovery() AS standby, ${WRITE_TIMELINE_SQL} AS timeline`, [], POLL_QUERY_LIMITS).catch(() => []);
    const row = rows[0];
    if (leader !== undefined && row !== undefined && !row.standby) {
      const key = `${leader.host}/${row.timeline}`;
      if (key !== this.#last) {
        // A leader restarted and promoted again by Patroni is a new timeline, not a new leader.
        if (this.#last !== '' && !this.#last.startsWith(`${leader.host}/`)) this.changes++;
        // /cluster comes from a member's cached view of etcd, refreshed every loop_wait (2 s): the leader may
        // have been promoted (and writing on its new timeline) that much before the view showed it.
        // The old leader's tenure ends when the new one is seen; the two overlap by that lag.
        this.tenures.end(seenAt);
        this.tenures.begin(leader.host, row.timeline, this.#lastPoll - VIEW_LAG_MILLIS);
        this.#last = key;
        this.log(`Patroni's view: ${leader.name} leads on timeline ${row.timeline} (taken from ${clock(this.#lastPoll - VIEW_LAG_MILLIS)})`);
      }
    }
    this.#lastPoll = now;
  }

  start(): void {
    const tick = (): void => {
      void this.poll().finally(() => {
        if (this.#timer !== null) this.#timer = setTimeout(tick, 200);
      });
    };
    this.#timer = setTimeout(tick, 200);
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  list(): readonly Tenure[] {
    return this.tenures.list();
  }
}

async function sessionsNamed(cluster: PatroniCluster, name: string): Promise<number> {
  let total = 0;
  for (const member of cluster.members) {
    const rows = await member.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name]).catch(() => [{ n: '0' }]);
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
export interface LostRows {
  readonly server: string;
  readonly timeline: number;
  readonly rows: number;
  /** On a timeline pg-split reported discarded, on a node that had it. */
  readonly discarded: boolean;
}

function lostRows(acks: readonly WriteAck[], present: ReadonlySet<number>, discarded: readonly TimelineDiscardedEvent[], hosts: readonly string[]): LostRows[] {
  const onDiscarded = (ack: WriteAck): boolean => discarded.some((d) => d.timeline === ack.timeline && d.nodes.some((i) => hosts[i] === ack.server));
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

async function faultLoop(cluster: PatroniCluster, load: MixedLoad, seed: number, durationMillis: number, log: (line: string) => void): Promise<PatroniFaultRecord[]> {
  const random = new Random(seed);
  const faults: PatroniFaultRecord[] = [];
  const startedAt = Date.now();
  while (Date.now() - startedAt < durationMillis) {
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
      label: patroniFaultLabel(plan), patroniPlan: plan, node: member.name, newLeader: after !== null && after !== before ? after.name : undefined,
      injectedAt, healedAt, writeRecoveryMillis: wroteAt === null ? null : wroteAt - healedAt, readRecoveryMillis: readAt === null ? null : readAt - healedAt,
    };
    faults.push(record);
    log(`#${faults.length} ${record.label} on ${record.node}${record.newLeader === undefined ? '' : `, Patroni's leader now ${record.newLeader}`} (${clock(injectedAt)} to ${clock(healedAt)}): writes back ${record.writeRecoveryMillis ?? 'never'} ms, reads ${record.readRecoveryMillis ?? 'never'} ms after the heal`);
  }
  return faults;
}

/**
 * The chaos run under Patroni: 3 members, connectSplit with the `patroni`
 * option under the mixed load, and random faults for `durationMillis`, every
 * failover performed by Patroni. Invariants are checked from the servers,
 * who led when from Patroni's own view.
 */
export async function runPatroniChaos(options: PatroniChaosOptions): Promise<PatroniChaosReport> {
  const log = options.log ?? (() => undefined);
  const cluster = await startPatroniCluster({ members: 3, synchronousMode: options.synchronous, dcs: options.synchronous ? 'etcd' : 'etcd3', log: (line) => log(`harness: ${line}`) });
  const watch = watchProcess();
  const tenures = new PatroniTenures(cluster, log);
  try {
    const leader = await cluster.waitUntilSettled();
    await leader.query(CHAOS_TABLE);
    await tenures.poll();
    tenures.start();
    const handlesBefore = handleCount();
    const split: SplitCluster = await connectSplit(cluster.url(cluster.members, { application_name: PATRONI_APPLICATION_NAME }), { patroni: { port: cluster.apiPort } });
    const discarded: TimelineDiscardedEvent[] = [];
    split.on('timeline-discarded', (e) => {
      discarded.push(e);
      log(`pg-split: timeline ${e.timeline} discarded (back on ${e.now}, on ${e.evidence === 'servers' ? 'the servers\'' : 'the orchestrator\'s'} word), ${e.acknowledgedWrites} writes acknowledged there`);
    });
    const load = new MixedLoad(split);
    const startedAt = Date.now();
    let faults: PatroniFaultRecord[];
    load.start();
    try {
      faults = await faultLoop(cluster, load, options.seed, options.durationMillis, log);
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
      synchronous: options.synchronous, load, tenures: tenures.list(), faults, matching: { ...SAME_LEADER, graceMillis: LOCK_MOVE_GRACE_MILLIS },
      present, sessionsLeft, handlesBefore, handlesLeft, problems: watch.problems, applicationName: PATRONI_APPLICATION_NAME, nodes: cluster.members.length,
    });
    const afterLockMoved = acknowledgedRows(writesOffPrimary(load.acks, tenures.list(), SAME_LEADER))
      - acknowledgedRows(writesOffPrimary(load.acks, tenures.list(), { ...SAME_LEADER, graceMillis: LOCK_MOVE_GRACE_MILLIS }));
    return {
      options: { durationMillis: options.durationMillis, seed: options.seed, synchronous: options.synchronous },
      faultMillis, faults, done: { ...load.done }, failed: { ...load.failed },
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
