import pg from 'pg';
import { isServerError, overridePoolCounters, type PoolCounter } from '../../connect/pg-wire.js';
import { PgSplitError } from '../../errors.js';
import { untraced } from '../../otel/otel-api.js';
import type { PoolRole } from '../../roles/role-decision.js';
import type { PoolUsage } from '../../telemetry/observations.js';
import { Checkouts, type PooledNodeClient } from './checkouts.js';
import { poolEndedError } from './pool-errors.js';
import { NodePools } from './node-pools.js';
import type { RoutedPoolSettings } from './pool-settings.js';
import { NO_REQUIREMENT, requirementOfQuery, type ReadRequirement } from './read-scope.js';
import type { PoolRouter } from './router.js';
import {
  internalMayRetry,
  isSubmittable,
  lostConnection,
  MAX_ATTEMPTS,
  recoveryConflictMayRetry,
  writeMayRetry,
  type Statement,
  type StatementKind,
  witnessNeeded,
} from './statement.js';

/** A position at or past the end of every commit made so far on the session's node (what a witnessed write waits for). */
const INSERT_POSITION_QUERY = 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn';

type Callback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error | boolean) => void) => void;

/** Calls a callback of the application outside pg-split's promises: what it throws is an uncaught exception, as with pg-pool. */
function callBack(fn: () => void): void {
  process.nextTick(fn);
}

/**
 * As pg-pool's promises: a failure's stack is taken again where the promise
 * settles, so that with async stack traces it leads back to the application's
 * `await`, not to the socket read that carried the server's error.
 */
function withCallerStack<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((err: unknown) => {
    if (err instanceof Error) Error.captureStackTrace(err);
    throw err;
  });
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
  readonly #router: PoolRouter;
  readonly #nodes: NodePools;
  readonly #checkouts: Checkouts;
  /** Statements of `query()` not settled yet. */
  #running = 0;
  /** Checkouts of `connect()` not settled yet. */
  #connecting = 0;
  /** Called each time a statement or a checkout settles while end() waits for those sent before it. */
  #onSettled: (() => void) | null = null;
  /** Set once the node pools end (end() after what was sent before it settled, or close()): waiting checkouts stop then. */
  #closing = false;

  constructor(settings: RoutedPoolSettings) {
    super({ ...settings.pool });
    this.#settings = settings;
    this.#role = settings.role;
    this.#router = settings.router;
    this.#nodes = new NodePools(settings.pool, settings.router, this, settings.nodePool);
    this.#checkouts = new Checkouts(
      settings,
      this.#nodes,
      () => this.#closing,
      (s, client, attempt) => this.#send(s, client, attempt),
    );
    this.#router.registry.onDrop((hostIndex) => this.#nodes.drop(hostIndex));
  }

  /** Which nodes it checks out on: the writer's, or the reader's. */
  get role(): PoolRole {
    return this.#role;
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
    // An ended pool wakes nothing, and checks out nothing more.
    let acquired: Promise<pg.PoolClient>;
    if (this.ending) acquired = Promise.reject(poolEndedError());
    else {
      this.#settings.activity.touch();
      this.#connecting++;
      acquired = this.#checkouts.held(this.#settings.scope.current());
      const settled = (): void => this.#settled('connect');
      acquired.then(settled, settled);
    }
    if (callback === undefined) return withCallerStack(acquired);
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
    if (callback === undefined) return withCallerStack(result);
    const reply = callback as (err?: Error, res?: unknown) => void;
    result.then(
      (res) => callBack(() => reply(undefined, res)),
      (err: Error) => callBack(() => reply(err)),
    );
    return undefined;
  }

  #queryRouted(first: unknown, values: unknown): Promise<pg.QueryResult> {
    // The writer ignores read requirements: no scope lookup on its path.
    if (this.#role === 'writer') return this.#statement(first, values, NO_REQUIREMENT, 'write');
    let requirement: ReadRequirement;
    try {
      const ofQuery = requirementOfQuery(first);
      const scoped = this.#settings.scope.current();
      requirement = ofQuery === NO_REQUIREMENT ? scoped : { ...scoped, ...ofQuery };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#statement(first, values, requirement, 'read');
  }

  /** Runs a statement on the writer without counting it as a write or tracing it (the write-token fetch itself). */
  queryUntracked(text: string): Promise<pg.QueryResult> {
    this.#settings.activity.touch();
    return untraced(() => this.#statement(text, undefined, NO_REQUIREMENT, 'internal'));
  }

  /** How far a standby has received and flushed WAL, on a pooled connection to it (null on a primary): a write witness's question. */
  receivedOn(host: number): Promise<string | null> {
    return this.#checkouts.receivedOn(host);
  }

  /** Each node pool's connection counters, for the metrics. */
  nodeUsage(): PoolUsage[] {
    return this.#nodes.usage().map((u) => ({ role: this.#role, ...u }));
  }

  /** Whether a statement of `query()` runs or waits (for a node, a replay, its witnesses), a `connect()` is under way, or a checkout waits in a full node pool. (A client the application holds is the runtime's to count: ConnectionRegistry.anyCheckedOut.) */
  busy(): boolean {
    return this.#running > 0 || this.#connecting > 0 || this.#nodes.waiting();
  }

  /** The cluster goes idle: every node pool ends (its idle connections close) and a later checkout opens a new one. */
  releaseIdle(): void {
    this.#nodes.dropAll();
  }

  /** A statement or a checkout settled: counted down, and end() told when it waits for them. */
  #settled(what: 'statement' | 'connect'): void {
    if (what === 'statement') this.#running--;
    else this.#connecting--;
    this.#onSettled?.();
  }

  /**
   * As pg-pool's: `ending` at once, a second call rejects (or calls back) with
   * pg-pool's error, and statements and checkouts sent from now on reject with
   * PGSPLIT_ENDED. Those sent before it are served, as pg-pool serves them
   * (one waiting for a node waits until its own deadline), and it is done
   * once they have settled and every node pool has ended, their checked-out
   * clients released. The callback is called as pg-pool calls it: before
   * end() returns when nothing is under way, else once it is done.
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
    // pg-pool's end() sets `ending` at once (this pool itself never holds a client); its callback form, since the
    // promise form would use the application's `Promise` option, whatever it is.
    super.end(() => undefined);
    const ended = this.#running + this.#connecting === 0 ? this.close() : this.#afterInFlight().then(() => this.close());
    if (callback === undefined) return ended;
    this.#nodes.whenEnded(() => callback());
  }

  /** Resolves once every statement and checkout sent before end() has settled. */
  #afterInFlight(): Promise<void> {
    return new Promise((resolve) => {
      this.#onSettled = () => {
        if (this.#running + this.#connecting > 0) return;
        this.#onSettled = null;
        resolve();
      };
    });
  }

  /**
   * Ends the pool now, whether or not the application already did
   * (connectSplit's end(), the cluster ending): checkouts still waiting for a
   * node reject with PGSPLIT_ENDED. The same promise every time.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      if (!this.ending) super.end(() => undefined);
      this.#closing = true;
      this.#router.nudge();
      this.#settings.onClose?.();
    }
    return this.#nodes.endAll();
  }

  /**
   * Every statement of `query()` takes this one path: attempts (#attempt),
   * each sent and settled by #send. Counted while it runs, whatever it waits
   * for (a node, a standby's replay, its witnesses): the cluster is not idle.
   */
  #statement(first: unknown, values: unknown, requirement: ReadRequirement, kind: StatementKind): Promise<pg.QueryResult> {
    // Sent after end(): pg-pool's error at once. Sent before it: served, as pg-pool serves it, end() waiting for it.
    if (this.ending) return Promise.reject(poolEndedError());
    this.#running++;
    return new Promise((resolve, reject) => {
      const settled = (): void => this.#settled('statement');
      const statement: Statement = {
        first,
        values,
        requirement,
        kind,
        resolve: (result) => {
          settled();
          resolve(result);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
      };
      this.#attempt(statement, 1, null, true);
    });
  }

  /** One attempt of `s`: a connection from Checkouts' dispatch (the one way a statement gets one), then #send. */
  #attempt(s: Statement, attempt: number, avoid: number | null, fast: boolean): void {
    this.#checkouts.dispatch(s, attempt, avoid, fast);
  }

  /**
   * Runs `s` on a checked-out client and settles it, the client released. A
   * read whose connection was lost is run again on another node; a write
   * that certainly did not commit (writeMayRetry) is run again on the
   * primary, once the watch names one; an internal statement (the
   * write-token fetch) is tried once. A write that committed on a leader
   * whose Patroni is silent is acknowledged once witnessed, and tracked:
   * later session-consistent reads must see it.
   */
  #send(s: Statement, client: PooledNodeClient, attempt: number): void {
    const host = client.pgSplitHost;
    // Checked out on a silent leader (Router.witnessed), not on a confirmed writer.
    const sentToSilentLeader = s.kind === 'write' && !this.#router.isWriter(host);
    const startedAt = this.#router.started(host);
    client.pgSplitSentAt = startedAt;
    // Its connection failed before the statement was handed to pg: pg refuses it unsent.
    const neverSent = client.pgSplitLost;
    const done = (err: Error | null | undefined, result?: pg.QueryResult): void => {
      client.pgSplitSentAt = 0;
      this.#router.settled(host, startedAt, err === null || err === undefined || isServerError(err));
      if (err === null || err === undefined) return this.#acknowledge(s, client, sentToSilentLeader, result as pg.QueryResult);
      const conflict = s.kind === 'read' && recoveryConflictMayRetry(err, s.first, !this.#router.isWriter(host));
      const retry = attempt < MAX_ATTEMPTS[s.kind] && mayRetry(s, client, err, conflict, neverSent);
      // A connection that failed is dropped; one whose statement a standby cancelled is as good as before.
      client.release(conflict ? undefined : err instanceof Error ? err : true);
      if (!retry) return s.reject(err);
      this.#settings.metrics?.retried(
        this.#role,
        conflict ? 'recovery-conflict' : lostConnection(client, err) ? 'connection-lost' : 'not-committed',
      );
      this.#attempt(s, attempt + 1, host, false);
    };
    try {
      (client.query as (f: unknown, v: unknown, cb: typeof done) => void)(s.first, s.values, done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A statement that succeeded: a write on a silent leader is acknowledged once witnessed (#witnessed releases). */
  #acknowledge(s: Statement, client: PooledNodeClient, sentToSilentLeader: boolean, result: pg.QueryResult): void {
    if (s.kind === 'write' && witnessNeeded(this.#router, client.pgSplitHost, sentToSilentLeader)) {
      this.#witnessed(client).then(() => {
        this.#settings.tracker.noteWrite();
        s.resolve(result);
      }, s.reject);
      return;
    }
    this.#router.release(client);
    if (s.kind === 'write') this.#settings.tracker.noteWrite();
    s.resolve(result);
  }

  /**
   * A write committed on a leader whose Patroni went silent: asks the leader
   * for its WAL insert position, releases the client, and resolves once
   * every other member has received that far (split/patroni/write-witness.ts).
   */
  async #witnessed(client: PooledNodeClient): Promise<void> {
    let lsn: string | undefined;
    try {
      lsn = (await untraced(() => client.query<{ lsn: string }>(INSERT_POSITION_QUERY))).rows[0]?.lsn;
      this.#router.release(client);
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    if (lsn === undefined)
      throw new PgSplitError('PGSPLIT_WRITE_UNCONFIRMED', 'pg-split: the silent leader returned no WAL position for a write');
    await this.#router.confirmWitnessed(client.pgSplitHost, lsn);
  }
}

/** Whether a failed statement runs again (its attempts left aside): by its kind's rule (statement.ts). */
function mayRetry(s: Statement, client: PooledNodeClient, err: unknown, recoveryConflict: boolean, neverSent: boolean): boolean {
  switch (s.kind) {
    case 'write':
      return writeMayRetry(err, s.first, neverSent);
    case 'read':
      return recoveryConflict || lostConnection(client, err);
    case 'internal':
      return internalMayRetry(client, err);
  }
}
