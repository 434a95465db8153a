import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { targetOf, type ConnectionTarget } from '../conninfo/resolve.js';
import { systemLookup } from '../connect/endpoints.js';
import { OptionError, PgSplitError } from '../errors.js';
import { describeValue } from '../input.js';
import type { NodeStatus } from '../roles/node-status.js';
import { IdleKeeper } from './watch/idle-keeper.js';
import { Balancer } from './pool/balancer.js';
import { ClusterWatch } from './watch/cluster-watch.js';
import { endedError } from './watch/decision-wait.js';
import {
  failoverEvent,
  splitBrainEvent,
  timelineDiscardedEvent,
  type ChangeEvent,
  type FailoverEvent,
  type SplitBrainEvent,
  type TimelineDiscardedEvent,
} from './split-events.js';
import type * as Watch from './watch/watch-events.js';
import { authorityOf } from './patroni/authority-of.js';
import { Discovery } from './discovery/discovery.js';
import { askMembersOf } from './discovery/discovery-sources.js';
import { applyMembership, type MemberEvent } from './discovery/member-changes.js';
import { Members } from './watch/members.js';
import { ConnectionRegistry } from './pool/connection-registry.js';
import { checkSplitOptions, resolveSplitOptions, type SplitOptions } from './options.js';
import { emptyFreshnessStats } from '../telemetry/freshness-stats.js';
import { checkToken, ReadScope } from './pool/read-scope.js';
import { RoutedPool } from './pool/routed-pool.js';
import { WriteTracker } from './pool/write-tracker.js';
import { WriteWitness } from './patroni/write-witness.js';
import { fenceAfterEpisode, fencePlan } from './pool/fence-plan.js';
import { Router } from './pool/router.js';
import type { PoolRole } from '../roles/role-decision.js';
import { loadOtel } from '../otel/otel-api.js';
import { metricsOf } from './cluster-metrics-of.js';
import { describeNodes, snapshot, type Topology } from './topology.js';

/** Each event's listener arguments. */
export interface SplitEvents {
  change: [event: ChangeEvent];
  failover: [event: FailoverEvent];
  'split-brain': [event: SplitBrainEvent];
  /** The newest timeline was discarded by the orchestrator (rewound away): writes acknowledged on it after its fork are lost. */
  'timeline-discarded': [event: TimelineDiscardedEvent];
  /** A member discovery found joined: it is checked, then joins the rotation. */
  'member-added': [event: MemberEvent];
  /** A member discovery no longer lists left: its statements in flight finish, then its connections close. */
  'member-removed': [event: MemberEvent];
  /** An error on an idle pooled connection (pg.Pool's `error`), or a discovery function's bad answer; without a listener it is dropped, never thrown. */
  error: [error: Error];
}

export type SplitEvent = keyof SplitEvents;
const EVENTS: readonly SplitEvent[] = [
  'change',
  'failover',
  'split-brain',
  'timeline-discarded',
  'member-added',
  'member-removed',
  'error',
];

export interface SplitCluster {
  /** A real pg.Pool: every connection on the current read-write primary. */
  readonly writer: pg.Pool;
  /** A real pg.Pool: connections spread over the nodes the reader policy allows. */
  readonly reader: pg.Pool;
  /** A snapshot of every node: role, timeline, lag, latency, last check. Never holds a password. */
  topology(): Topology;
  on<E extends SplitEvent>(event: E, listener: (...args: SplitEvents[E]) => void): SplitCluster;
  off<E extends SplitEvent>(event: E, listener: (...args: SplitEvents[E]) => void): SplitCluster;
  /** The primary's current WAL position: a token that a later read (here or in another process) can wait for. */
  writeToken(): Promise<string>;
  /** Runs `fn` with every read of this cluster in it (pool or ORM) seeing everything written up to `token`. */
  after<T>(token: string, fn: () => T): T;
  /** Runs `fn` with every read of this cluster in it (pool or ORM) on the primary. */
  onPrimary<T>(fn: () => T): T;
  /** Closes both pools and every monitoring session; checkouts still waiting fail with PGSPLIT_ENDED. Idempotent. */
  end(): Promise<void>;
}

/** Whether a standby is further behind than the limits allow. */
function lagLimit(limit: { bytes: number | null; millis: number | null }): (s: NodeStatus) => boolean {
  return (s) =>
    (limit.bytes !== null && (s.replayLagBytes ?? 0) > limit.bytes) ||
    (limit.millis !== null && (s.replayLagSeconds ?? 0) * 1000 > limit.millis);
}

function checkListener(event: unknown, listener: unknown): void {
  if (!EVENTS.includes(event as SplitEvent))
    throw new OptionError(`Unknown event ${describeValue(event)}; events are ${EVENTS.map((e) => `'${e}'`).join(', ')}`);
  if (typeof listener !== 'function') throw new OptionError(`Expected a listener function, got ${describeValue(listener)}`);
}

/**
 * Connects to a cluster named by one libpq connection string and returns a
 * writer pool that always writes on the current primary and a reader pool
 * that spreads reads over healthy standbys, following failovers.
 *
 * @example
 * const { reader, writer, end } = await connectSplit('postgresql://app@db1,db2,db3/shop');
 * await writer.query('insert into orders ...');
 * await reader.query('select ...');
 */
export async function connectSplit(conninfo: string | ConnectionTarget, options: SplitOptions = {}): Promise<SplitCluster> {
  const checked = checkSplitOptions(options);
  const target = targetOf(conninfo, checked as Readonly<Record<string, unknown>>);
  const opts = resolveSplitOptions(checked, target);
  const otel = await loadOtel();
  const tooFar = lagLimit(opts.maxReplicaLag);
  const freshness = emptyFreshnessStats();
  const scope = new ReadScope();
  // The write token is read through the writer, which is built below with this tracker.
  const tracker = new WriteTracker(() => {
    freshness.tokenFetches++;
    return writeToken();
  });
  const members = new Members(target);
  // pg-pool's allowExitOnIdle on either pool: pg-split's own sessions, requests and watches never keep the process alive.
  const exitOnIdle = opts.writer.allowExitOnIdle === true || opts.reader.allowExitOnIdle === true;
  const { authority, dcs } = authorityOf(opts.patroni, members, exitOnIdle);
  const watch = new ClusterWatch(members, {
    ...(authority === null ? {} : { authority }),
    acknowledgedWrites: () => tracker.acknowledged,
    recheckMillis: opts.recheckMillis,
    failoverRecheckMillis: opts.failoverRecheckMillis,
    checkTimeoutMillis: opts.checkTimeoutMillis,
    maxBackoffMillis: opts.reconnectMaxDelayMillis,
    lookup: opts.lookup ?? systemLookup,
    policy: opts.readerPolicy,
    isTooFarBehind: tooFar,
    noReads: (i) => members.noLoadBalance(i),
    exitOnIdle,
  });
  const registry = new ConnectionRegistry();
  // Asks the reader's pools (standbys) how far they received; both pools exist before any write is witnessed.
  const witness = new WriteWitness(
    {
      patroniMembers: (leader) => authority?.memberKeys(leader) ?? Promise.resolve(null),
      activeMembers: () => members.activeKeys(),
      received: (i) => reader.receivedOn(i),
      name: (i) => members.hostOf(i).host,
      onReady: () => watch.nudge(),
    },
    opts.failoverTimeoutMillis,
  );
  const router = new Router(members, watch, new Balancer(opts.balance), registry, witness);
  const events = new EventEmitter();
  const emitError = (err: unknown): void => {
    if (events.listenerCount('error') > 0) events.emit('error', err);
  };
  // Read at collections only, by then both pools exist.
  const metrics = metricsOf(otel, members, watch, () => [writer, reader], freshness);
  // Both pools exist before the first statement, the first thing that can wake the cluster or find it idle.
  const idle = new IdleKeeper(opts.idleAfterMillis, {
    busy: () => writer.busy() || reader.busy() || watch.waiting > 0,
    sleep: () => {
      discovery?.pause();
      watch.sleep();
      writer.releaseIdle();
      reader.releaseIdle();
    },
    wake: () => {
      watch.wake();
      discovery?.start();
    },
  });
  const makePool = (role: PoolRole): RoutedPool => {
    const pool = new RoutedPool({
      role,
      router,
      pool: opts[role],
      failoverTimeoutMillis: opts.failoverTimeoutMillis,
      describe: () => describeNodes(watch, authority),
      activity: idle,
      tracker,
      scope,
      consistency: opts.consistency,
      freshness: opts.sessionReads,
      stats: freshness,
      metrics,
    });
    pool.on('error', emitError);
    return pool;
  };
  const writer = makePool('writer');
  const reader = makePool('reader');
  const writeToken = async (): Promise<string> => {
    const { rows } = await writer.queryUntracked('SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn');
    return (rows[0] as { lsn?: string } | undefined)?.lsn ?? '0/0';
  };
  const hostOf = (i: number): { host: string; port: number } => members.hostOf(i);
  watch.on('change', (event: ChangeEvent) => events.emit('change', event));
  watch.on('failover', (event: Watch.FailoverEvent) => events.emit('failover', failoverEvent(event, hostOf)));
  watch.on('split-brain', (event: Watch.SplitBrainEvent) => events.emit('split-brain', splitBrainEvent(event, hostOf)));
  watch.on('timeline-discarded', (event: Watch.TimelineDiscardedEvent) =>
    events.emit('timeline-discarded', timelineDiscardedEvent(event, hostOf)),
  );
  // A member discovery removed: its pools end once their statements finish (nothing is cut).
  watch.on('drained', (hostIndex: number) => {
    registry.drain(hostIndex);
    router.forget(hostIndex);
  });
  const source = opts.discovery;
  const discovery =
    source === null
      ? null
      : new Discovery(
          askMembersOf(source, members, dcs),
          source.intervalMillis,
          (found) => applyMembership(members, watch, found, source.source, (name, event) => events.emit(name, event)),
          emitError,
        );
  // A host that stopped answering (frozen, cut off): cut its pooled connections, so statements there fail now
  // instead of hanging, or committing later on a thawed old primary. A host that closed its sessions itself
  // (a shutdown, a crash) needs no cut: its server answers or ends every statement in flight.
  watch.on('unresponsive', (hostIndex: number) => registry.fence(hostIndex));
  // What the decision's change means for pooled connections (fence-plan.ts), carried out on the registry.
  watch.on('change', (change: ChangeEvent) => {
    const plan = fencePlan(change, authority === null ? null : (i) => authority.isSilent(i));
    plan.fence.forEach((i) => registry.fence(i));
    plan.fenceCheckedOut.forEach((i) => registry.fenceCheckedOut(i));
    const cut = fenceAfterEpisode(witness.follow(plan.silent, change.current.writer), change.current.writer);
    if (cut !== null) registry.fence(cut);
  });

  let ended: Promise<void> | null = null;
  const end = (): Promise<void> => {
    ended ??= (async () => {
      idle.close();
      discovery?.close();
      witness.close(endedError());
      watch.close();
      metrics?.close();
      await Promise.allSettled([writer.close(), reader.close()]);
    })();
    return ended;
  };
  const cluster: SplitCluster = {
    writer,
    reader,
    topology: () => snapshot(watch, registry, tooFar, freshness, authority, members, idle.asleep),
    writeToken,
    after: (token, fn) => scope.run({ after: checkToken(token) }, fn),
    onPrimary: (fn) => scope.run({ primary: true }, fn),
    on(event, listener) {
      checkListener(event, listener);
      events.on(event, listener as (...args: unknown[]) => void);
      return cluster;
    },
    off(event, listener) {
      checkListener(event, listener);
      events.off(event, listener as (...args: unknown[]) => void);
      return cluster;
    },
    end,
  };
  watch.start();
  discovery?.start();
  if (discovery !== null) dcs?.on('change', () => discovery.refresh());
  idle.start();
  // Patroni's keys in etcd: wrong credentials or no such scope fail now, each with its code (etcd unreachable: the writer waits).
  const dcsProblem = dcs === null ? null : await dcs.firstRead();
  if (dcsProblem !== null && dcsProblem.code !== 'PGSPLIT_ETCD_UNAVAILABLE') {
    await end();
    throw dcsProblem;
  }
  if (opts.waitForPrimary !== false) {
    const noPrimary = (): Error =>
      new PgSplitError(
        'PGSPLIT_NO_PRIMARY',
        `pg-split: no read-write primary found within ${opts.failoverTimeoutMillis} ms\n${describeNodes(watch, authority)}`,
      );
    try {
      // A string that has never reached a server (refused, no such name) fails now, unless asked to wait for a starting cluster.
      const failFast = opts.waitForPrimary === 'always' ? 'refusals' : 'refusals-and-no-server';
      await watch.waitFor((d) => d.writer !== null, Date.now() + opts.failoverTimeoutMillis, noPrimary, failFast);
    } catch (err) {
      await end();
      throw err;
    }
  }
  return cluster;
}
