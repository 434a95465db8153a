import pg from 'pg';
import { overridePoolCounters } from '../../connect/pg-wire.js';
import { PgSplitError } from '../../errors.js';
import type { PoolMetrics } from '../../telemetry/cluster-metrics.js';
import type { PoolUsage } from '../../telemetry/observations.js';
import { untraced } from '../../otel/otel-api.js';
import { freshRead, type FreshnessOptions, type FreshReadSteps } from './freshness.js';
import type { FreshnessStats } from '../../telemetry/freshness-stats.js';
import { NodeClient, type NodeClientConfig } from './node-client.js';
import type { PoolSettings } from './pool-settings.js';
import { NO_REQUIREMENT, requirementOfQuery, type ReadRequirement, type ReadScope } from './read-scope.js';
import type { Router } from './router.js';
import type { PoolRole } from '../../roles/role-decision.js';
import { certainlyNotCommitted, failoverSignal } from './sqlstate.js';
import type { WriteTracker } from './write-tracker.js';

type Callback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error | boolean) => void) => void;
type PooledNodeClient = pg.PoolClient & NodeClient;
type Run = (first: unknown, values: unknown) => Promise<pg.QueryResult>;

export interface RoutedPoolSettings {
  readonly role: PoolRole;
  readonly router: Router;
  readonly pool: PoolSettings;
  /** How long a checkout waits for an eligible node (a writer: the new primary during a failover). */
  readonly failoverTimeoutMillis: number;
  /** Describes why no node is eligible, for the timeout error. */
  readonly describe: () => string;
  readonly tracker: WriteTracker;
  /** This cluster's read scopes (`after`, `onPrimary`). */
  readonly scope: ReadScope;
  /** 'session': every read sees every write acknowledged through this writer before it started. */
  readonly consistency: 'eventual' | 'session';
  readonly freshness: FreshnessOptions;
  readonly stats: FreshnessStats;
  /** Checkout waits and retries, when the application has OpenTelemetry's API; else null (nothing measured). */
  readonly metrics: PoolMetrics | null;
  /** Told of every statement and checkout (it wakes an idle cluster). */
  readonly activity: { touch(): void };
}

/** How far a standby has replayed (a replay check before reads that must see a write). */
const REPLAY_QUERY = 'SELECT pg_catalog.pg_last_wal_replay_lsn()::text AS lsn';

/** How far a standby has received and flushed WAL (a write witness's question); null on a primary. */
const RECEIVED_QUERY = 'SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn()::text END AS lsn';

/** A position at or past the end of every commit made so far on the session's node (what a witnessed write waits for). */
const INSERT_POSITION_QUERY = 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn';

/** pg.Pool events re-emitted from the per-node pools, with pg-pool's arguments, once someone listens to them. */
const FORWARDED_EVENTS: ReadonlySet<string | symbol> = new Set(['connect', 'acquire', 'release', 'remove']);

/** A statement or checkout on a pool after its end() was called: pg-pool's words. */
function poolEndedError(): PgSplitError {
  return new PgSplitError('PGSPLIT_ENDED', 'Cannot use a pool after calling end on the pool');
}

/** Calls a callback of the application outside pg-split's promises: what it throws is an uncaught exception, as with pg-pool. */
function callBack(fn: () => void): void {
  process.nextTick(fn);
}

function noNodeError(settings: RoutedPoolSettings, role: PoolRole): PgSplitError {
  const what = role === 'writer' ? 'no read-write primary' : 'no eligible node for reads';
  const code = role === 'writer' ? 'PGSPLIT_FAILOVER_TIMEOUT' : 'PGSPLIT_NO_READER';
  return new PgSplitError(code, `pg-split: ${what} within ${settings.failoverTimeoutMillis} ms\n${settings.describe()}`);
}

function isSubmittable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { submit?: unknown }).submit === 'function';
}

function lostConnection(client: PooledNodeClient, err: unknown): boolean {
  const signal = failoverSignal(err);
  return client.pgSplitLost || signal === 'connection-lost' || signal === 'shutdown';
}

/** The statement text of `query()`'s arguments, when it has one. */
function statementText(first: unknown): string | null {
  if (typeof first === 'string') return first;
  const text = typeof first === 'object' && first !== null ? (first as { text?: unknown }).text : undefined;
  return typeof text === 'string' ? text : null;
}

/**
 * Whether a statement is one statement (no `;` before its end): a string of
 * several could have committed its first part (an explicit COMMIT) before it
 * was cut, so only a single statement is ever run again.
 */
function singleStatement(first: unknown): boolean {
  const text = statementText(first);
  return text !== null && !/;\s*\S/.test(text);
}

/**
 * Whether a failed writer statement may run again on the (new) primary: it
 * certainly did not commit (the server aborted or refused it by SQLSTATE, or
 * it was never sent) and it is a single statement. A statement whose
 * connection was cut without an answer is never repeated.
 */
function writeMayRetry(err: unknown, first: unknown): boolean {
  return certainlyNotCommitted(err) && singleStatement(first);
}

/**
 * A pg.Pool (so `instanceof pg.Pool` holds and ORMs accept it) that holds one
 * ordinary pg.Pool per node and chooses the node on every checkout: the
 * writer's is the current primary, the reader's the next eligible node (one
 * that has replayed far enough when the read must see a write). A checkout
 * waits (up to failoverTimeoutMillis) for an eligible node and retries a
 * connection that failed before any statement was sent. The reader's
 * `query()` also retries, once and on another node, a read whose connection
 * was lost before it returned. `max` and the other settings apply per node.
 */
export class RoutedPool extends pg.Pool {
  readonly #settings: RoutedPoolSettings;
  readonly #role: PoolRole;
  readonly #router: Router;
  readonly #nodes = new Map<number, pg.Pool>();
  /** Events someone listens to: only those are forwarded (every checkout would pay for the others). */
  readonly #forwarded = new Set<string | symbol>();
  /** Checkouts waiting for an eligible node (a writer during a failover): part of waitingCount, as pg-pool's queue. */
  #waitingForNode = 0;
  #ended: Promise<void> | null = null;
  /** Once end() was called: node pools (and this pool) still ending, and what to call when none is left. */
  #nodesLeft = -1;
  readonly #onEnded: Array<() => void> = [];

  constructor(settings: RoutedPoolSettings) {
    super({ ...settings.pool });
    this.#settings = settings;
    this.#role = settings.role;
    this.#router = settings.router;
    this.#router.registry.onDrop((hostIndex) => this.#dropNode(hostIndex));
    (this as NodeJS.EventEmitter).on('newListener', (name: string | symbol) => {
      if (!FORWARDED_EVENTS.has(name) || this.#forwarded.has(name)) return;
      this.#forwarded.add(name);
      for (const pool of this.#nodes.values()) this.#forward(pool, name);
    });
  }

  static {
    overridePoolCounters(RoutedPool.prototype, (pool, counter) => (pool instanceof RoutedPool ? pool.#sum(counter) : 0));
  }

  #sum(counter: 'totalCount' | 'idleCount' | 'waitingCount' | 'expiredCount'): number {
    let total = counter === 'waitingCount' ? this.#waitingForNode : 0;
    for (const p of this.#nodes.values()) total += p[counter];
    return total;
  }

  #forward(pool: pg.Pool, name: string | symbol): void {
    pool.on(name as 'connect', (...args: unknown[]) => this.emit(name, ...args));
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: Callback): void;
  override connect(callback?: Callback): Promise<pg.PoolClient> | void {
    // An ended pool wakes nothing.
    if (!this.ending) this.#settings.activity.touch();
    const acquired = this.#measuredCheckout(this.#settings.scope.current(), null).then((client) => this.#trackCheckout(client));
    if (callback === undefined) return acquired;
    acquired.then(
      (client) => callBack(() => callback(undefined, client, (release) => client.release(release))),
      (err: Error) => callBack(() => callback(err, undefined, () => undefined)),
    );
  }

  // pg.Pool's own overloads, as @types/pg declares them (its `any` defaults included).
  /* eslint-disable @typescript-eslint/no-explicit-any */
  override query<T extends pg.Submittable>(queryStream: T): T;
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>;
  override query<R extends pg.QueryResultRow = any, I = any[]>(queryConfig: pg.QueryConfig<I>): Promise<pg.QueryResult<R>>;
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  override query(first?: unknown, second?: unknown, third?: unknown): unknown {
    if (!this.ending) this.#settings.activity.touch();
    if (isSubmittable(first) || typeof first === 'function') return (super.query as (...a: unknown[]) => unknown)(first, second, third);
    // pg-pool's forms: (text or config[, values][, callback]); a function in place of the values is the callback.
    const callback = typeof second === 'function' ? second : typeof third === 'function' ? third : undefined;
    const values = second === callback ? undefined : second;
    const result = this.#queryRouted(first, values);
    if (callback === undefined) return result;
    const reply = callback as (err?: Error, res?: unknown) => void;
    result.then(
      (res) => callBack(() => reply(undefined, res)),
      (err: Error) => callBack(() => reply(err)),
    );
    return undefined;
  }

  #queryRouted(first: unknown, values: unknown): Promise<pg.QueryResult> {
    // The writer ignores read requirements: no scope lookup on its path.
    if (this.#role === 'writer') return this.#direct(first, values, NO_REQUIREMENT, 'writer', 'write');
    let requirement: ReadRequirement;
    try {
      const ofQuery = requirementOfQuery(first);
      const scoped = this.#settings.scope.current();
      requirement = ofQuery === NO_REQUIREMENT ? scoped : { ...scoped, ...ofQuery };
    } catch (err) {
      return Promise.reject(err);
    }
    if (requirement.primary === true) return this.#direct(first, values, requirement, 'writer', 'read');
    if (requirement.after === undefined && this.#settings.consistency === 'eventual')
      return this.#direct(first, values, requirement, 'reader', 'read');
    return this.#run(first, values, requirement, 'read');
  }

  /** Runs a statement on the writer without counting it as a write or tracing it (the write-token fetch itself). */
  queryUntracked(text: string): Promise<pg.QueryResult> {
    this.#settings.activity.touch();
    return untraced(() => this.#run(text, undefined, NO_REQUIREMENT, 'internal'));
  }

  /** Each node pool's connection counters, for the metrics. */
  nodeUsage(): PoolUsage[] {
    return [...this.#nodes].map(([hostIndex, p]) => ({
      role: this.#role,
      hostIndex,
      total: p.totalCount,
      idle: p.idleCount,
      waiting: p.waitingCount,
    }));
  }

  /** Whether a client is checked out or connecting, or a checkout waits for one, on any node. */
  busy(): boolean {
    for (const p of this.#nodes.values()) if (p.totalCount > p.idleCount || p.waitingCount > 0) return true;
    return false;
  }

  /** The cluster goes idle: every node pool ends (its idle connections close) and a later checkout opens a new one. */
  releaseIdle(): void {
    for (const hostIndex of [...this.#nodes.keys()]) this.#dropNode(hostIndex);
  }

  /**
   * As pg-pool's: `ending` at once, a second call rejects (or calls back) with
   * pg-pool's error, and it is done once every node pool has ended, their
   * checked-out clients released; checkouts still waiting for a node, and
   * statements sent from now on, reject with PGSPLIT_ENDED. The callback is
   * called as pg-pool calls it: before end() returns when nothing is checked
   * out, else from the last release.
   */
  override end(): Promise<void>;
  override end(callback: (err?: Error) => void): void;
  override end(callback?: (err?: Error) => void): Promise<void> | void {
    if (this.ending) {
      const err = new Error('Called end on pool more than once');
      if (callback === undefined) return Promise.reject(err);
      callback(err);
      return;
    }
    const ended = this.close();
    if (callback === undefined) return ended;
    if (this.#nodesLeft === 0) callback();
    else this.#onEnded.push(() => callback());
  }

  /** Ends the pool whether or not the application already did (connectSplit's end()): the same promise every time. */
  close(): Promise<void> {
    if (this.#ended !== null) return this.#ended;
    this.#ended = new Promise((resolve) => this.#onEnded.unshift(resolve));
    // pg-pool's end() sets `ending` at once (this pool itself never holds a client): no node pool is made from here on.
    // Its callback form: the promise form would use the application's `Promise` option, whatever it is.
    super.end(() => undefined);
    this.#router.nudge();
    const pools = [...this.#nodes.values()];
    this.#nodes.clear();
    this.#nodesLeft = pools.length + 1;
    const oneEnded = (): void => {
      if (--this.#nodesLeft > 0) return;
      for (const done of this.#onEnded.splice(0)) done();
    };
    // The callback form: pg-pool calls it before end() returns when nothing is checked out.
    for (const pool of pools) pool.end(oneEnded);
    oneEnded();
    return this.#ended;
  }

  /**
   * The application holds the client until it releases it (so a silent
   * leader's fence cuts it: ConnectionRegistry.fenceCheckedOut); a writer
   * checkout counts as a write when it is released (its statements are
   * acknowledged by then).
   */
  #trackCheckout(client: PooledNodeClient): pg.PoolClient {
    client.pgSplitCheckedOut = true;
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.pgSplitCheckedOut = false;
      if (this.#role === 'writer') this.#settings.tracker.noteWrite();
      return release(err);
    };
    return client;
  }

  #nodePool(hostIndex: number): pg.Pool | null {
    const existing = this.#nodes.get(hostIndex);
    if (existing !== undefined) return existing;
    if (this.ending) return null;
    const config = this.#router.configFor(hostIndex);
    if (config === null) return null;
    const nodeConfig: NodeClientConfig & pg.PoolConfig = {
      ...this.#settings.pool,
      ...config,
      pgSplitNode: { router: this.#router, hostIndex },
    };
    const pool = new pg.Pool({ ...nodeConfig, Client: NodeClient as unknown as new () => pg.ClientBase });
    pool.on('error', (err, client) => this.listenerCount('error') > 0 && this.emit('error', err, client));
    for (const name of this.#forwarded) this.#forward(pool, name);
    this.#nodes.set(hostIndex, pool);
    return pool;
  }

  #dropNode(hostIndex: number): void {
    const pool = this.#nodes.get(hostIndex);
    if (pool === undefined) return;
    this.#nodes.delete(hostIndex);
    pool.end().catch(() => undefined);
  }

  /** A checkout honouring the read requirement (reader) or on the primary (writer; a single statement may go to a silent leader, `witnessed`). */
  #checkout(requirement: ReadRequirement, avoid: number | null, witnessed = false): Promise<PooledNodeClient> {
    if (this.#role === 'writer' || requirement.primary === true) return this.#acquire('writer', avoid, witnessed);
    if (requirement.after === undefined && this.#settings.consistency === 'eventual') return this.#acquire('reader', avoid);
    return this.#freshCheckout(requirement, avoid);
  }

  async #freshCheckout(requirement: ReadRequirement, avoid: number | null): Promise<PooledNodeClient> {
    const required = requirement.after ?? (await this.#settings.tracker.required());
    if (required === null) return this.#acquire('reader', avoid);
    return freshRead(this.#freshSteps(), required, this.#settings.freshness, this.#settings.stats);
  }

  #freshSteps(): FreshReadSteps<PooledNodeClient> {
    const router = this.#router;
    return {
      candidates: () => router.inTurn('reader'),
      isPrimary: (host) => router.isWriter(host),
      knownReplay: (host) => router.knownReplay(host),
      replayCheckInFlight: (host) => router.replayCheckInFlight(host),
      replayCheck: (host) => router.checkReplay(host, () => this.#askReplay(host)),
      checkout: (host) => this.#acquireOn(host),
      checkoutPrimary: () => this.#acquire('writer', null),
      sleep: (millis) => new Promise((r) => setTimeout(r, millis)),
    };
  }

  /** One replay check on a pooled connection to the node: how far it has replayed. */
  #askReplay(host: number): Promise<string | null> {
    this.#settings.stats.replayChecks++;
    return this.#askPosition(host, REPLAY_QUERY);
  }

  /** How far a standby has received and flushed WAL, on a pooled connection to it (null on a primary). */
  receivedOn(host: number): Promise<string | null> {
    return this.#askPosition(host, RECEIVED_QUERY);
  }

  async #askPosition(host: number, sql: string): Promise<string | null> {
    const client = await this.#acquireOn(host);
    try {
      const result = await untraced(() => client.query<{ lsn: string | null }>(sql));
      client.release();
      return result.rows[0]?.lsn ?? null;
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  /** A checkout whose wait is recorded when metrics are on (no extra step when they are off). */
  #measuredCheckout(requirement: ReadRequirement, avoid: number | null, witnessed = false): Promise<PooledNodeClient> {
    const metrics = this.#settings.metrics;
    if (metrics === null) return this.#checkout(requirement, avoid, witnessed);
    const started = performance.now();
    return this.#checkout(requirement, avoid, witnessed).then((client) => {
      metrics.checkedOut(this.#role, client.pgSplitHost, (performance.now() - started) / 1000);
      return client;
    });
  }

  /**
   * Checks out a client on an eligible node of `pick`, not on `avoid` when
   * another node is eligible; with `witnessed`, on the silent leader while no
   * writer is confirmed (Router.witnessed), only on connections its pool
   * already has (#pooledOnly).
   */
  async #acquire(pick: PoolRole, avoid: number | null, witnessed = false): Promise<PooledNodeClient> {
    const deadline = Date.now() + this.#settings.failoverTimeoutMillis;
    const eligible = (host: number): boolean => this.#router.eligible(pick, host) || (witnessed && this.#router.witnessed() === host);
    for (;;) {
      if (this.ending) throw poolEndedError();
      const host = this.#router.pick(pick, avoid) ?? (witnessed ? this.#router.witnessed() : null);
      if (host === null) {
        await this.#waitForNode(pick, deadline, witnessed);
        continue;
      }
      if (!this.#router.eligible(pick, host) && !this.#pooledOnly(host)) {
        if (Date.now() >= deadline) throw noNodeError(this.#settings, pick);
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      let client: PooledNodeClient | null = null;
      try {
        client = await this.#acquireOn(host, deadline);
      } catch (err) {
        if (this.ending) throw poolEndedError();
        if (failoverSignal(err) === null || Date.now() >= deadline) throw err;
      }
      if (client !== null && eligible(host) && !client.pgSplitLost) return client;
      client?.release(true);
      // The node failed or changed role; give its monitor a moment to see it before trying again.
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits for an eligible node (counted in waitingCount); wakes at once when the pool ends. */
  async #waitForNode(pick: PoolRole, deadline: number, witnessed: boolean): Promise<void> {
    const noNode = (): Error => noNodeError(this.#settings, pick);
    const stop = (): boolean => this.ending;
    this.#waitingForNode++;
    try {
      await (witnessed ? this.#router.waitForWrite(deadline, noNode, stop) : this.#router.waitFor(pick, deadline, noNode, stop));
    } finally {
      this.#waitingForNode--;
    }
  }

  /**
   * Whether a checkout on the node's pool now takes a connection it has (an
   * idle one no earlier checkout is about to take, or the next released when
   * it is full) rather than opening one: a silent leader's frozen postmaster
   * would never answer a new connection.
   */
  #pooledOnly(host: number): boolean {
    const pool = this.#nodes.get(host);
    return pool !== undefined && (pool.idleCount > pool.waitingCount || pool.totalCount >= (pool.options.max ?? 10));
  }

  /** Checks out a client on one node's pool; a failure that may mean the cluster changed is reported. */
  #acquireOn(host: number, deadline = Date.now() + this.#settings.failoverTimeoutMillis): Promise<PooledNodeClient> {
    const pool = this.#nodePool(host);
    if (pool === null) return Promise.reject(this.ending ? poolEndedError() : noNodeError(this.#settings, this.#role));
    return (pool.connect() as Promise<PooledNodeClient>).catch((err: unknown) => {
      if (Date.now() < deadline) this.#router.report(host, failoverSignal(err));
      throw err;
    });
  }

  /**
   * The common case without a promise or async step of its own: the node is
   * picked now, and pg-pool's and pg's callback forms check out, run and
   * release. Anything out of the ordinary (no eligible node, a failed
   * checkout, a node that changed role, a statement to retry) goes on in
   * `#run`, which does the same with waiting and retries, so both paths
   * decide alike.
   */
  #direct(first: unknown, values: unknown, requirement: ReadRequirement, pick: PoolRole, kind: 'write' | 'read'): Promise<pg.QueryResult> {
    const host = this.ending ? null : this.#router.pick(pick, null);
    const pool = host === null ? null : this.#nodePool(host);
    if (host === null || pool === null) return this.#run(first, values, requirement, kind);
    const metrics = this.#settings.metrics;
    const started = metrics === null ? 0 : performance.now();
    return new Promise((resolve, reject) => {
      const slow = (attempt: number, avoid: number | null): void =>
        void this.#run(first, values, requirement, kind, attempt, avoid).then(resolve, reject);
      pool.connect((connectError, pooled) => {
        const client = pooled as PooledNodeClient | undefined;
        if (connectError !== undefined && connectError !== null) {
          // As #acquire: the pool ended, or an error that is no failover signal, fails the statement now.
          if (this.ending) return reject(poolEndedError());
          const signal = failoverSignal(connectError);
          if (signal === null) return reject(connectError);
          this.#router.report(host, signal);
          return slow(1, null);
        }
        if (client === undefined) return slow(1, null);
        if (!this.#router.eligible(pick, host) || client.pgSplitLost) {
          client.release(true);
          return slow(1, null);
        }
        metrics?.checkedOut(this.#role, host, (performance.now() - started) / 1000);
        const done = (err: Error | null | undefined, result?: pg.QueryResult): void => {
          if (err === null || err === undefined) {
            // Committed on a leader whose Patroni went silent meanwhile: acknowledged once witnessed (#witness releases).
            if (kind === 'write' && this.#witnessNeeded(host, false)) {
              this.#witness(client).then(() => {
                this.#settings.tracker.noteWrite();
                resolve(result as pg.QueryResult);
              }, reject);
              return;
            }
            client.release();
            if (kind === 'write') this.#settings.tracker.noteWrite();
            resolve(result as pg.QueryResult);
            return;
          }
          const retry = kind === 'write' ? writeMayRetry(err, first) : lostConnection(client, err);
          client.release(err instanceof Error ? err : true);
          if (!retry) return reject(err);
          metrics?.retried(this.#role);
          slow(2, host);
        };
        try {
          (client.query as (f: unknown, v: unknown, cb: typeof done) => void)(first, values, done);
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  }

  /**
   * One statement on a checked-out client, released afterwards. A read whose
   * connection was lost is run again on another node; a write that certainly
   * did not commit (writeMayRetry) is run again on the primary, once the
   * watch names one. A write is tracked: later session-consistent reads must
   * see it once acknowledged. An internal statement (the write-token fetch)
   * is tried once and neither tracked nor measured. `firstAttempt` and
   * `avoidFirst`: where `#direct` left off.
   */
  async #run(
    first: unknown,
    values: unknown,
    requirement: ReadRequirement,
    kind: 'write' | 'read' | 'internal',
    firstAttempt = 1,
    avoidFirst: number | null = null,
  ): Promise<pg.QueryResult> {
    const tries = kind === 'internal' ? 1 : 2;
    let avoid = avoidFirst;
    for (let attempt = firstAttempt; ; attempt++) {
      const client: PooledNodeClient = await (kind === 'internal'
        ? this.#checkout(requirement, avoid)
        : this.#measuredCheckout(requirement, avoid, kind === 'write'));
      const host = client.pgSplitHost;
      // Checked out on a silent leader (Router.witnessed), not on a confirmed writer.
      const sentToSilentLeader = kind === 'write' && !this.#router.isWriter(host);
      let result: pg.QueryResult;
      try {
        result = await (client.query as Run)(first, values);
      } catch (err) {
        const retry = attempt < tries && (kind === 'write' ? writeMayRetry(err, first) : lostConnection(client, err));
        client.release(err instanceof Error ? err : true);
        if (!retry) throw err;
        this.#settings.metrics?.retried(this.#role);
        avoid = host;
        continue;
      }
      // Acknowledged once witnessed, never run again (it committed).
      if (kind === 'write' && this.#witnessNeeded(host, sentToSilentLeader)) await this.#witness(client);
      else client.release();
      if (kind === 'write') this.#settings.tracker.noteWrite();
      return result;
    }
  }

  /**
   * Whether a write that committed on `host` is acknowledged only once
   * witnessed: sent to a silent leader, while Patroni has not confirmed it
   * again; sent to the writer, when the node went silent meanwhile
   * (Router.mustWitness).
   */
  #witnessNeeded(host: number, sentToSilentLeader: boolean): boolean {
    return sentToSilentLeader ? !this.#router.isWriter(host) : this.#router.mustWitness(host);
  }

  /** Releases a client whose write committed on a silent leader, once every other member has received the write. */
  async #witness(client: PooledNodeClient): Promise<void> {
    let lsn: string | undefined;
    try {
      lsn = (await untraced(() => client.query<{ lsn: string }>(INSERT_POSITION_QUERY))).rows[0]?.lsn;
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    if (lsn === undefined)
      throw new PgSplitError('PGSPLIT_WRITE_UNCONFIRMED', 'pg-split: the silent leader returned no WAL position for a write');
    await this.#router.confirmWitnessed(client.pgSplitHost, lsn);
  }
}
