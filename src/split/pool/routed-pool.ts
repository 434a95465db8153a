import pg from 'pg';
import { overridePoolCounters, type PoolCounter } from '../../connect/pg-wire.js';
import { untraced } from '../../otel/otel-api.js';
import type { PoolRole } from '../../roles/role-decision.js';
import type { PoolUsage } from '../../telemetry/observations.js';
import { Checkouts, poolEndedError, type PooledNodeClient } from './checkouts.js';
import { NodePools } from './node-pools.js';
import type { RoutedPoolSettings } from './pool-settings.js';
import { NO_REQUIREMENT, requirementOfQuery, type ReadRequirement } from './read-scope.js';
import type { Router } from './router.js';
import { failoverSignal } from './sqlstate.js';
import { isSubmittable, lostConnection, writeMayRetry } from './statement-retry.js';
import { acknowledgeWitnessed, witnessNeeded } from './witnessed-write.js';

type Callback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error | boolean) => void) => void;
type Run = (first: unknown, values: unknown) => Promise<pg.QueryResult>;

/** Calls a callback of the application outside pg-split's promises: what it throws is an uncaught exception, as with pg-pool. */
function callBack(fn: () => void): void {
  process.nextTick(fn);
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
  readonly #nodes: NodePools;
  readonly #checkouts: Checkouts;

  constructor(settings: RoutedPoolSettings) {
    super({ ...settings.pool });
    this.#settings = settings;
    this.#role = settings.role;
    this.#router = settings.router;
    this.#nodes = new NodePools(settings.pool, settings.router, this);
    this.#checkouts = new Checkouts(settings, this.#nodes, () => this.ending);
    this.#router.registry.onDrop((hostIndex) => this.#nodes.drop(hostIndex));
  }

  static {
    overridePoolCounters(RoutedPool.prototype, (pool, counter) => (pool instanceof RoutedPool ? pool.#sum(counter) : 0));
  }

  #sum(counter: PoolCounter): number {
    return this.#nodes.sum(counter) + (counter === 'waitingCount' ? this.#checkouts.waiting : 0);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: Callback): void;
  override connect(callback?: Callback): Promise<pg.PoolClient> | void {
    // An ended pool wakes nothing.
    if (!this.ending) this.#settings.activity.touch();
    const acquired = this.#checkouts.held(this.#settings.scope.current());
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

  /** How far a standby has received and flushed WAL, on a pooled connection to it (null on a primary): a write witness's question. */
  receivedOn(host: number): Promise<string | null> {
    return this.#checkouts.receivedOn(host);
  }

  /** Each node pool's connection counters, for the metrics. */
  nodeUsage(): PoolUsage[] {
    return this.#nodes.usage().map((u) => ({ role: this.#role, ...u }));
  }

  /** Whether a client is checked out or connecting, or a checkout waits for one, on any node. */
  busy(): boolean {
    return this.#nodes.busy();
  }

  /** The cluster goes idle: every node pool ends (its idle connections close) and a later checkout opens a new one. */
  releaseIdle(): void {
    this.#nodes.dropAll();
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
    this.#nodes.whenEnded(() => callback());
  }

  /** Ends the pool whether or not the application already did (connectSplit's end()): the same promise every time. */
  close(): Promise<void> {
    if (!this.ending) {
      // pg-pool's end() sets `ending` at once (this pool itself never holds a client); its callback form, since the
      // promise form would use the application's `Promise` option, whatever it is.
      super.end(() => undefined);
      this.#router.nudge();
    }
    return this.#nodes.endAll();
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
    const pool = host === null ? null : this.#nodes.get(host);
    if (host === null || pool === null) return this.#run(first, values, requirement, kind);
    const metrics = this.#settings.metrics;
    const started = metrics === null ? 0 : performance.now();
    return new Promise((resolve, reject) => {
      const slow = (attempt: number, avoid: number | null): void =>
        void this.#run(first, values, requirement, kind, attempt, avoid).then(resolve, reject);
      pool.connect((connectError, pooled) => {
        const client = pooled as PooledNodeClient | undefined;
        if (connectError !== undefined && connectError !== null) {
          // As Checkouts: the pool ended, or an error that is no failover signal, fails the statement now.
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
            // Committed on a leader whose Patroni went silent meanwhile: acknowledged once witnessed (acknowledgeWitnessed releases).
            if (kind === 'write' && witnessNeeded(this.#router, host, false)) {
              acknowledgeWitnessed(this.#router, client).then(() => {
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
        ? this.#checkouts.checkout(requirement, avoid)
        : this.#checkouts.measured(requirement, avoid, kind === 'write'));
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
      if (kind === 'write' && witnessNeeded(this.#router, host, sentToSilentLeader)) await acknowledgeWitnessed(this.#router, client);
      else client.release();
      if (kind === 'write') this.#settings.tracker.noteWrite();
      return result;
    }
  }
}
