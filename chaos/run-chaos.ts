import { startCluster, type Cluster } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';
import { waitForNoSessions } from '../test/support/server-count.js';
import { acknowledgedRows, invariantChecks, peerFigures, type PeerFigures } from './checks.js';
import { injectFor, type ChaosRunFigures, type FaultBudget, type FaultRecord } from './fault-loop.js';
import { FaultInjector } from './inject.js';
import { lateAcks, missingIds } from './invariants.js';
import { CHAOS_TABLE, MixedLoad } from './mixed-load.js';
import { PeerWriteLoad } from './peer-load.js';
import { handleCount, settledHandles, watchProcess } from './process-watch.js';
import { TenureLog, type Tenure } from './tenure.js';

export interface ChaosOptions extends FaultBudget {
  readonly seed: number;
  /** Synchronous replication (`ANY 1 (*)`): no acknowledged commit may be lost. */
  readonly synchronous: boolean;
  /** Also write through postgres.js (target_session_attrs=primary) under the same faults, for comparison. */
  readonly peer?: boolean;
  readonly log?: (line: string) => void;
  /** The primary's loopback address (the standbys take the next ones). @default '127.0.0.2' */
  readonly firstAddress?: string;
}

type EventCounts = Record<'failover' | 'split-brain' | 'error', number>;

export interface ChaosReport extends ChaosRunFigures<ChaosOptions, FaultRecord> {
  /** Acknowledged rows missing from the final primary: an invariant (0) with synchronous replication; PostgreSQL's own loss without it. */
  readonly lostRows: number;
  /** Writes an old primary acknowledged after another node's promotion began: an invariant (0) with synchronous replication; PostgreSQL's figure without it. */
  readonly lateAcks: number;
  readonly longestOpMillis: number;
  readonly events: Readonly<EventCounts>;
  readonly tenures: readonly Tenure[];
  readonly peer: PeerFigures | null;
}

const APPLICATION_NAME = 'pgsplit-chaos';

function countEvents(split: SplitCluster): EventCounts {
  const events: EventCounts = { failover: 0, 'split-brain': 0, error: 0 };
  for (const name of Object.keys(events) as Array<keyof EventCounts>) split.on(name, () => void events[name]++);
  return events;
}

async function finalRows(cluster: Cluster): Promise<Set<number>> {
  const rows = await cluster.currentPrimary.query<{ id: string }>('SELECT id::text FROM chaos_writes');
  return new Set(rows.map((r) => Number(r.id)));
}

/**
 * The chaos run: a primary and two standbys, connectSplit with default
 * options under a mixed load, and one random fault after another for
 * `durationMillis`. Every invariant is then checked from the servers.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const cluster = await startCluster({ standbys: 2, synchronous: options.synchronous, firstAddress: options.firstAddress ?? '127.0.0.2' });
  const watch = watchProcess();
  try {
    await cluster.primary.query(CHAOS_TABLE);
    await cluster.waitForReplication();
    const tenures = new TenureLog();
    tenures.begin(cluster.primary.host, await cluster.primary.timeline(), 0);
    const handlesBefore = handleCount();
    const split = await connectSplit(cluster.conninfo(cluster.nodes, { application_name: APPLICATION_NAME }));
    const events = countEvents(split);
    const load = new MixedLoad(split);
    const peer = options.peer === true ? new PeerWriteLoad(cluster) : null;
    const startedAt = Date.now();
    let faults: FaultRecord[];
    load.start();
    peer?.start();
    try {
      faults = await injectFor(options.seed, options, new FaultInjector(cluster, tenures), load, options.log ?? (() => undefined));
    } finally {
      await Promise.all([load.stop(), peer?.stop()]);
      await split.end();
    }
    const faultMillis = Date.now() - startedAt;
    const sessionsLeft = await waitForNoSessions(cluster, APPLICATION_NAME, 10_000);
    const handlesLeft = await settledHandles(handlesBefore);
    await cluster.waitForReplication();
    const present = await finalRows(cluster);
    const checks = invariantChecks({
      synchronous: options.synchronous,
      load,
      tenures: tenures.list(),
      faults,
      present,
      sessionsLeft,
      handlesBefore,
      handlesLeft,
      problems: watch.problems,
      applicationName: APPLICATION_NAME,
      nodes: cluster.nodes.length,
    });
    return {
      options: {
        durationMillis: options.durationMillis,
        seed: options.seed,
        synchronous: options.synchronous,
        peer: options.peer ?? false,
      },
      faultMillis,
      faults,
      done: { ...load.done },
      failed: { ...load.failed },
      failures: [...load.failures.values()].sort((a, b) => b.count - a.count),
      acknowledgedRows: acknowledgedRows(load.acks),
      lostRows: missingIds(load.acks, present).length,
      lateAcks: lateAcks(load.acks, tenures.list()).length,
      longestOpMillis: load.longest.millis,
      events: { ...events },
      tenures: tenures.list(),
      checks,
      peer: peer === null ? null : peerFigures(peer, tenures.list(), present),
    };
  } finally {
    watch.release();
    await cluster.destroy();
  }
}

/** How many invariant violations the run found. */
export function violationCount(report: ChaosReport): number {
  return report.checks.reduce((n, c) => n + c.violations, 0);
}
