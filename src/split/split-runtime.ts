/**
 * One cluster's runtime: every part that follows the cluster (members, the
 * watch, Patroni as a second authority, connections to fence, witnessed
 * writes, written positions, sleeping when idle, discovery, metrics), built
 * once, in dependency order, and shared by every routed pool made on it.
 * `connectSplit` makes one with a writer and a reader; `pg-split/pg` makes
 * one per host list and hands a routed pool of it to each `Pool` and a node
 * of it to each `Client` that names those hosts.
 */
import { EventEmitter } from 'node:events';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { systemLookup } from '../connect/endpoints.js';
import { PgSplitError } from '../errors.js';
import type { Otel } from '../otel/otel-api.js';
import type { NodeStatus } from '../roles/node-status.js';
import type { PoolRole, RoleDecision } from '../roles/role-decision.js';
import { emptyFreshnessStats } from '../telemetry/freshness-stats.js';
import { metricsOf } from './cluster-metrics-of.js';
import { Discovery } from './discovery/discovery.js';
import { askMembersOf } from './discovery/discovery-sources.js';
import { applyMembership } from './discovery/member-changes.js';
import type { ResolvedSplitOptions } from './options.js';
import { authorityOf } from './patroni/authority-of.js';
import { membersNoHostNames } from './patroni/dcs-authority.js';
import { WriteWitness } from './patroni/write-witness.js';
import { Balancer } from './pool/balancer.js';
import type { ClientConfig } from 'pg';
import { noNodeError } from './pool/pool-errors.js';
import { ConnectionRegistry, type Fenceable } from './pool/connection-registry.js';
import type { NodeClient } from './pool/node-client.js';
import { Fencer } from './pool/fencer.js';
import type { PoolSettings } from './pool/pool-settings.js';
import { ReadScope } from './pool/read-scope.js';
import { RoutedPool } from './pool/routed-pool.js';
import { LatencyBook } from './pool/latency-book.js';
import { Router } from './pool/router.js';
import { WriteTracker } from './pool/write-tracker.js';
import { logDecision, logWatchDecisions } from './watch/decision-log.js';
import { failoverEvent, splitBrainEvent, timelineDiscardedEvent, type ChangeEvent } from './split-events.js';
import { describeNodes, snapshot, type Topology } from './topology.js';
import { ClusterWatch } from './watch/cluster-watch.js';
import { endedError } from './watch/decision-wait.js';
import { IdleKeeper } from './watch/idle-keeper.js';
import { Members } from './watch/members.js';
import type * as Watch from './watch/watch-events.js';

/** Whether a standby is further behind than the limits allow. */
function lagLimit(limit: { bytes: number | null; millis: number | null }): (s: NodeStatus) => boolean {
  return (s) =>
    (limit.bytes !== null && (s.replayLagBytes ?? 0) > limit.bytes) ||
    (limit.millis !== null && (s.replayLagSeconds ?? 0) * 1000 > limit.millis);
}

const WRITE_POSITION_SQL = 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn';

export class SplitRuntime {
  readonly target: ConnectionTarget;
  readonly options: ResolvedSplitOptions;
  /** The application-facing events (SplitEvents): the watch's, discovery's, and idle clients' errors. */
  readonly events = new EventEmitter();
  readonly scope = new ReadScope();
  readonly members: Members;
  readonly watch: ClusterWatch;
  readonly router: Router;
  readonly registry = new ConnectionRegistry();
  readonly #pools = new Set<RoutedPool>();
  /** Pools made for the runtime's own questions when the application made none of that role (pg-split/pg). */
  readonly #ownPools = new Map<PoolRole, RoutedPool>();
  readonly #tracker: WriteTracker;
  readonly #freshness = emptyFreshnessStats();
  readonly #tooFar: (s: NodeStatus) => boolean;
  readonly #authority: ReturnType<typeof authorityOf>['authority'];
  readonly #dcs: ReturnType<typeof authorityOf>['dcs'];
  readonly #witness: WriteWitness;
  /** Cuts connections when the decision changes (fencer.ts); pg-split/pg's Clients are followed there. */
  readonly #fencer: Fencer;
  readonly #idle: IdleKeeper;
  readonly #discovery: Discovery | null;
  readonly #metrics: ReturnType<typeof metricsOf>;
  /** The clock every deadline and idle time of this cluster is read on. */
  readonly #now: () => number;
  #ended: Promise<void> | null = null;

  constructor(target: ConnectionTarget, opts: ResolvedSplitOptions, otel: Otel | null, now: () => number = Date.now) {
    this.target = target;
    this.options = opts;
    this.#now = now;
    this.#tooFar = lagLimit(opts.maxReplicaLag);
    this.#tracker = new WriteTracker(() => {
      this.#freshness.tokenFetches++;
      return this.writeToken();
    });
    const members = (this.members = new Members(target, opts.hosts));
    // pg-pool's allowExitOnIdle on either pool: pg-split's own sessions, requests and watches never keep the process alive.
    const exitOnIdle = opts.writer.allowExitOnIdle === true || opts.reader.allowExitOnIdle === true;
    // What the pools observe of each node's statements: the `fastest` balance's costs, and the answers that tell a host is up.
    const latency = new LatencyBook();
    const { authority, dcs } = authorityOf(opts.patroni, members, exitOnIdle, now);
    this.#authority = authority;
    this.#dcs = dcs;
    const watch = (this.watch = new ClusterWatch(members, {
      now,
      ...(authority === null ? {} : { authority }),
      acknowledgedWrites: () => this.#tracker.acknowledged,
      recheckMillis: opts.recheckMillis,
      failoverRecheckMillis: opts.failoverRecheckMillis,
      checkTimeoutMillis: opts.checkTimeoutMillis,
      maxBackoffMillis: opts.reconnectMaxDelayMillis,
      lookup: opts.lookup ?? systemLookup,
      policy: opts.readerPolicy,
      isTooFarBehind: this.#tooFar,
      noReads: (i) => members.noLoadBalance(i),
      exitOnIdle,
      // With pooledChecks, checks run on an idle pooled connection when the pools have one (every pooled connection is a NodeClient, a pg.Client).
      ...(opts.pooledChecks
        ? {
            pooled: (i: number) => this.registry.idleClient(i) as NodeClient | null,
            answers: { last: (i: number) => latency.lastAnswer(i), now: () => latency.now() },
          }
        : {}),
    }));
    // Asks a reader's pools (standbys) how far they received.
    this.#witness = new WriteWitness(
      {
        patroniMembers: (leader) => authority?.memberKeys(leader) ?? Promise.resolve(null),
        activeMembers: () => members.activeKeys(),
        received: (i) => this.#poolOf('reader').receivedOn(i),
        name: (i) => members.hostOf(i).host,
        onReady: () => watch.nudge(),
      },
      opts.failoverTimeoutMillis,
    );
    this.router = new Router(
      members,
      watch,
      new Balancer(opts.balance),
      this.registry,
      this.#witness,
      {
        zone: opts.zone,
        policy: opts.readerPolicy,
      },
      latency,
    );
    // Read at collections only.
    this.#metrics = metricsOf(otel, members, watch, () => [...this.#pools], this.#freshness);
    this.#idle = new IdleKeeper(
      opts.idleAfterMillis,
      {
        // An open connection the application holds (a pool's checked-out client, a pg-split/pg Client), a statement or
        // checkout under way, a wait for a node. A client it ended without releasing it holds nothing: not counted.
        busy: () => this.registry.anyCheckedOut() || [...this.#pools].some((p) => p.busy()) || watch.waiting > 0,
        sleep: () => {
          logDecision('sleep: idle; every monitoring session, pooled connection and timer closes');
          this.#discovery?.pause();
          watch.sleep();
          for (const pool of this.#pools) pool.releaseIdle();
        },
        wake: () => {
          logDecision('wake: a statement came; every host is checked again');
          watch.wake();
          this.#discovery?.start();
        },
        emptyPoolsQuietMillis: () => this.#emptyPoolsQuietMillis(),
      },
      now,
    );
    this.#wireEvents();
    // Subscribed after the events above: the application's `change` is emitted before the cut, as the watch's split-brain after it.
    this.#fencer = new Fencer(watch, this.registry, this.#witness, authority === null ? null : (i) => authority.isSilent(i));
    const source = opts.discovery;
    this.#discovery =
      source === null
        ? null
        : new Discovery(
            askMembersOf(source, members, dcs),
            source.intervalMillis,
            (found) => applyMembership(members, watch, found, source.source, (name, event) => this.events.emit(name, event)),
            (err) => this.emitError(err),
          );
  }

  #wireEvents(): void {
    const { watch, events, registry } = this;
    const authority = this.#authority;
    // The last open connection closed (the pools' idle timeout, mostly): the cluster follows them to sleep.
    registry.onAllClosed(() => this.#idle.poolsEmptied());
    const hostOf = (i: number): { host: string; port: number } => this.members.hostOf(i);
    logWatchDecisions(watch, hostOf);
    watch.on('change', (event: ChangeEvent) => events.emit('change', event));
    watch.on('failover', (event: Watch.FailoverEvent) => events.emit('failover', failoverEvent(event, hostOf)));
    // Emitted after the change that ruled the stale nodes out, so after their connections were cut (fencer.ts).
    const confirmsLeader = authority === null ? null : (i: number): boolean => authority.confirms(i);
    watch.on('split-brain', (event: Watch.SplitBrainEvent) => events.emit('split-brain', splitBrainEvent(event, hostOf, confirmsLeader)));
    watch.on('timeline-discarded', (event: Watch.TimelineDiscardedEvent) =>
      events.emit('timeline-discarded', timelineDiscardedEvent(event, hostOf)),
    );
    // A member discovery removed: its pools end once their statements finish (nothing is cut).
    watch.on('drained', (hostIndex: number) => {
      registry.drain(hostIndex);
      this.router.forget(hostIndex);
    });
  }

  /**
   * The node a pg-split/pg Client connects to for `role` (the writer, or the
   * next reader) and how to reach it; waits for one as a pool's checkout
   * does, up to failoverTimeoutMillis, and fails as soon as every host
   * refused the login.
   */
  async nodeFor(role: PoolRole): Promise<{ hostIndex: number; config: ClientConfig }> {
    const timeoutMillis = this.options.failoverTimeoutMillis;
    this.touch();
    const deadline = this.#now() + timeoutMillis;
    for (;;) {
      const hostIndex = this.router.pick(role);
      const config = hostIndex === null ? null : this.router.configFor(hostIndex);
      if (hostIndex !== null && config !== null) return { hostIndex, config };
      await this.router.wait(
        () => this.router.hasNode(role),
        deadline,
        () => noNodeError(role, timeoutMillis, () => this.describe()),
        true,
      );
    }
  }

  /** A Client connected on `hostIndex` for `role`: cut when the node no longer serves it; forgotten once it ends. */
  follow(client: Fenceable, role: PoolRole, hostIndex: number): void {
    this.#fencer.follow(client, role, hostIndex);
  }

  unfollow(client: Fenceable): void {
    this.#fencer.unfollow(client);
  }

  /** Emits `error` to the application's listeners; without one it is dropped, never thrown. */
  emitError(err: unknown): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', err);
  }

  /** A routed pool of this runtime: `role`'s nodes, with `settings` per node. */
  pool(role: PoolRole, settings: PoolSettings, onClose?: () => void): RoutedPool {
    const opts = this.options;
    const pool: RoutedPool = new RoutedPool({
      onClose: () => {
        this.#pools.delete(pool);
        onClose?.();
      },
      role,
      router: this.router,
      pool: settings,
      failoverTimeoutMillis: opts.failoverTimeoutMillis,
      now: this.#now,
      describe: () => this.describe(),
      activity: this.#idle,
      tracker: this.#tracker,
      scope: this.scope,
      consistency: opts.consistency,
      freshness: opts.sessionReads,
      fallbackReads: role === 'reader' ? opts.fallbackReads : null,
      stats: this.#freshness,
      metrics: this.#metrics,
    });
    pool.on('error', (err: unknown) => this.emitError(err));
    this.#pools.add(pool);
    return pool;
  }

  /**
   * Once no connection is open (the pools closed their idle clients, the
   * application ended those it held): how long without a statement is idle
   * enough, the pools' own idleTimeoutMillis (the shortest); null while one is
   * open, or when a pool never closes idle ones (idleTimeoutMillis 0 or null).
   */
  #emptyPoolsQuietMillis(): number | null {
    if (this.registry.anyOpen) return null;
    let quiet = Infinity;
    for (const pool of this.#pools) {
      const timeout = pool.options.idleTimeoutMillis ?? 0;
      if (timeout <= 0) return null;
      quiet = Math.min(quiet, timeout);
    }
    return quiet === Infinity ? null : quiet;
  }

  /** The first pool of the role the application made, else one of the runtime's own (write positions, witnesses' answers). */
  #poolOf(role: PoolRole): RoutedPool {
    for (const pool of this.#pools) if (pool.role === role && !pool.ending) return pool;
    let own = this.#ownPools.get(role);
    if (own === undefined || own.ending) {
      own = this.pool(role, Object.freeze({ max: 2 }));
      this.#ownPools.set(role, own);
    }
    return own;
  }

  /** The primary's current WAL position: a token a later read can wait for. */
  async writeToken(): Promise<string> {
    const { rows } = await this.#poolOf('writer').queryUntracked(WRITE_POSITION_SQL);
    return (rows[0] as { lsn?: string } | undefined)?.lsn ?? '0/0';
  }

  /** A statement or checkout outside the pools starts (a pg-split/pg Client): wakes a sleeping cluster. */
  touch(): void {
    this.#idle.touch();
  }

  get decision(): RoleDecision {
    return this.watch.decision;
  }

  describe(): string {
    return describeNodes(this.watch, this.#authority);
  }

  topology(): Topology {
    return snapshot(this.watch, this.registry, this.#tooFar, this.#freshness, this.#authority, this.members, this.#idle.asleep);
  }

  /** Starts watching: every host checked now, discovery and the idle keeper started. */
  start(): void {
    this.watch.start();
    this.#discovery?.start();
    const discovery = this.#discovery;
    if (discovery !== null) this.#dcs?.on('change', () => discovery.refresh());
    this.#idle.start();
  }

  /**
   * Resolves once a writer is known (`connectSplit`'s start): Patroni's keys
   * that cannot be read (wrong scope, credentials) and a string that never
   * reached a server fail at once; else PGSPLIT_NO_PRIMARY after
   * failoverTimeoutMillis. Ends the runtime when it rejects.
   */
  async ready(): Promise<void> {
    const opts = this.options;
    const dcsProblem = this.#dcs === null ? null : await this.#dcs.firstRead();
    if (dcsProblem !== null && dcsProblem.code !== 'PGSPLIT_ETCD_UNAVAILABLE') {
      await this.end();
      throw dcsProblem;
    }
    const unnamed =
      this.#dcs === null
        ? null
        : membersNoHostNames(
            [...this.#dcs.state.members.values()],
            this.members.active().map((i) => this.members.hostOf(i)),
          );
    if (unnamed !== null) {
      await this.end();
      throw new PgSplitError(
        'PGSPLIT_PATRONI_MEMBERS',
        `pg-split: no host of the connection string is one of Patroni's members (the same host and port as its conn_url, or the only member on that host): ${unnamed.map((m) => `${m.name} at ${m.host}:${m.port}`).join(', ')}`,
      );
    }
    if (opts.waitForPrimary === false) return;
    const noPrimary = (): Error =>
      new PgSplitError(
        'PGSPLIT_NO_PRIMARY',
        `pg-split: no read-write primary found within ${opts.failoverTimeoutMillis} ms\n${this.describe()}`,
      );
    try {
      // A string that has never reached a server (refused, no such name) fails now, unless asked to wait for a starting cluster.
      const failFast = opts.waitForPrimary === 'always' ? 'refusals' : 'refusals-and-no-server';
      await this.watch.waitFor((d) => d.writer !== null, this.#now() + opts.failoverTimeoutMillis, noPrimary, failFast);
    } catch (err) {
      await this.end();
      throw err;
    }
  }

  /** Closes every pool and monitoring session; checkouts still waiting fail with PGSPLIT_ENDED. Idempotent. */
  end(): Promise<void> {
    this.#ended ??= (async () => {
      this.#idle.close();
      this.#discovery?.close();
      this.#witness.close(endedError());
      this.watch.close();
      this.router.close();
      this.#metrics?.close();
      await Promise.allSettled([...this.#pools, ...this.#ownPools.values()].map((p) => p.close()));
    })();
    return this.#ended;
  }

  get ended(): boolean {
    return this.#ended !== null;
  }
}
