import type pg from 'pg';
import { untraced } from '../../otel/otel-api.js';
import type { PoolRole } from '../../roles/role-decision.js';
import { freshRead, type FreshReadSteps } from './freshness.js';
import { usableAfterCheck, type NodeClient } from './node-client.js';
import type { NodePools } from './node-pools.js';
import type { RoutedPoolSettings } from './pool-settings.js';
import type { ReadRequirement } from './read-scope.js';
import { fallbackFullError, noNodeError, poolEndedError } from './pool-errors.js';
import type { NodeChoice, NodeReports, ReplayPort } from './router.js';
import { failoverSignal, NodeDroppedError, tooManyConnections } from './sqlstate.js';
import { nodeRoleFor, nodeRoleNow, type Statement } from './statement.js';

export type PooledNodeClient = pg.PoolClient & NodeClient;

/** What a checkout uses of the router: choosing and waiting, the standbys' replay, and reporting a failed connect. */
type CheckoutRouter = NodeChoice & ReplayPort & Pick<NodeReports, 'report'>;

/** How far a standby has replayed (a replay check before reads that must see a write). */
const REPLAY_QUERY = 'SELECT pg_catalog.pg_last_wal_replay_lsn()::text AS lsn';

/** How far a standby has received and flushed WAL (a write witness's question); null on a primary. */
const RECEIVED_QUERY = 'SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn()::text END AS lsn';

function noNodeFor(settings: RoutedPoolSettings, role: PoolRole): Error {
  return noNodeError(role, settings.failoverTimeoutMillis, settings.describe);
}

/**
 * How a routed pool checks out a client: on the node the router names for
 * the role (or, for a read that must see a write, on a standby that has
 * replayed far enough), waiting up to failoverTimeoutMillis for an eligible
 * node and trying again when a checkout fails in a way that may mean the
 * cluster changed. Also the position queries the reader's pools answer
 * (replay checks, a write witness's question).
 */
export class Checkouts {
  readonly #settings: RoutedPoolSettings;
  readonly #router: CheckoutRouter;
  readonly #nodes: NodePools;
  readonly #ending: () => boolean;
  /** Runs attempt `attempt` of a statement on the client dispatch() got it (RoutedPool's send): one function, no closure per statement. */
  readonly #send: (s: Statement, client: PooledNodeClient, attempt: number) => void;
  /** Checkouts waiting for an eligible node (a writer during a failover): part of waitingCount, as pg-pool's queue. */
  #waiting = 0;
  /** Per node pool, while checkouts wait for one of its clients to be released: how many, and the one listener. */
  readonly #releaseWaits = new Map<pg.Pool, { waiting: number; listener: () => void }>();

  constructor(
    settings: RoutedPoolSettings,
    nodes: NodePools,
    ending: () => boolean,
    send: (s: Statement, client: PooledNodeClient, attempt: number) => void,
  ) {
    this.#settings = settings;
    this.#router = settings.router;
    this.#nodes = nodes;
    this.#ending = ending;
    this.#send = send;
  }

  /** Checkouts waiting now for an eligible node. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * The one way a statement of `query()` gets its connection for its
   * attempt `attempt`, handed to the pool's send (a failure rejects the
   * statement). When it can go to any eligible
   * node of a role (`nodeRoleNow`) and one is eligible now, that node's
   * pg-pool checks out by its callback form, with no promise or async step
   * (`fast`: not after a failed checkout). Otherwise (a read that must see a
   * write, no eligible node, a failed checkout, a retry) #acquire's loop
   * waits for a node and picks it, `avoid` left out when another is
   * eligible. Either way, a connection a monitor's check runs on is handed
   * over once the check went through (#handOver).
   */
  dispatch(s: Statement, attempt: number, avoid: number | null, fast: boolean): void {
    const role = fast && !this.#ending() ? nodeRoleNow(this.#settings.role, s, this.#settings.consistency) : null;
    const host = role === null ? null : this.#router.pick(role, null, this.#nodes.overloaded);
    // The primary reading for want of a standby at its fallbackReads bound: #acquire waits (or fails) as the option says.
    const pool = host === null || (role === 'reader' && this.fallbackFull(host)) ? null : this.#nodes.get(host);
    if (role === null || host === null || pool === null) {
      const checkout =
        s.kind === 'internal' ? this.checkout(s.requirement, avoid) : this.measured(s.requirement, avoid, s.kind === 'write');
      checkout.then((client) => this.#handOver(s, client, attempt), s.reject);
      return;
    }
    const metrics = this.#settings.metrics;
    const started = metrics === null ? 0 : performance.now();
    this.#nodes.checkout(pool, (connectError, pooled) => {
      const client = pooled as PooledNodeClient | undefined;
      if (connectError !== undefined) {
        // As #acquire: the pool ended, or an error that is no failover signal, fails the statement now.
        if (this.#ending()) return s.reject(poolEndedError());
        const signal = failoverSignal(connectError);
        // A node whose connections are all taken (53300): #acquire tries again after the watch's next look.
        if (signal === null && !tooManyConnections(connectError)) return s.reject(connectError);
        this.#router.report(host, signal);
        return this.dispatch(s, attempt, null, false);
      }
      if (client === undefined) return this.dispatch(s, attempt, null, false);
      if (!this.#router.eligible(role, host) || client.pgSplitLost) {
        client.release(true);
        return this.dispatch(s, attempt, null, false);
      }
      metrics?.checkedOut(this.#settings.role, host, (performance.now() - started) / 1000);
      this.#handOver(s, client, attempt);
    });
  }

  /**
   * Hands the client to the statement; when a monitor's check runs on it (it
   * was idle in its pool when the check began), once the check went through,
   * else the statement goes elsewhere, the client dropped. Behind the check
   * in pg's queue, a statement would fail without a SQLSTATE if the check
   * met a shutdown, and could not run again.
   */
  #handOver(s: Statement, client: PooledNodeClient, attempt: number): void {
    const check = client.pgSplitCheck;
    if (check === null) return this.#send(s, client, attempt);
    void usableAfterCheck(client, check).then((usable) =>
      usable ? this.#send(s, client, attempt) : this.dispatch(s, attempt, client.pgSplitHost, false),
    );
  }

  /** A checkout for the application (connect()): held until it releases it, once a check running on it went through. */
  held(requirement: ReadRequirement): Promise<pg.PoolClient> {
    return this.measured(requirement, null).then(async (client) => {
      if (client.pgSplitCheck !== null && !(await usableAfterCheck(client, client.pgSplitCheck))) return this.held(requirement);
      return this.#track(client);
    });
  }

  /**
   * The application holds the client until it releases it (so a silent
   * leader's fence cuts it: ConnectionRegistry.fenceCheckedOut); a writer
   * checkout counts as a write when it is released (its statements are
   * acknowledged by then).
   */
  #track(client: PooledNodeClient): pg.PoolClient {
    client.pgSplitCheckedOut = true;
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.pgSplitCheckedOut = false;
      if (this.#settings.role === 'writer') this.#settings.tracker.noteWrite();
      return release(err);
    };
    return client;
  }

  /** A checkout honouring the read requirement (reader) or on the primary (writer; a single statement may go to a silent leader, `witnessed`). */
  checkout(requirement: ReadRequirement, avoid: number | null, witnessed = false): Promise<PooledNodeClient> {
    const role = nodeRoleFor(this.#settings.role, requirement, this.#settings.consistency);
    if (role === 'writer') return this.#acquire('writer', avoid, witnessed);
    return role === 'reader' ? this.#acquire('reader', avoid) : this.#freshCheckout(requirement, avoid);
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
      now: this.#settings.now,
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
  measured(requirement: ReadRequirement, avoid: number | null, witnessed = false): Promise<PooledNodeClient> {
    const metrics = this.#settings.metrics;
    if (metrics === null) return this.checkout(requirement, avoid, witnessed);
    const started = performance.now();
    return this.checkout(requirement, avoid, witnessed).then((client) => {
      metrics.checkedOut(this.#settings.role, client.pgSplitHost, (performance.now() - started) / 1000);
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
    const deadline = this.#settings.now() + this.#settings.failoverTimeoutMillis;
    const eligible = (host: number): boolean => this.#router.eligible(pick, host) || (witnessed && this.#router.witnessed() === host);
    const pickNow = (): number | null =>
      this.#router.pick(pick, avoid, this.#nodes.overloaded) ?? (witnessed ? this.#router.witnessed() : null);
    /** The node the last attempt failed on (or found no longer eligible), the watch's status count then, and the error. */
    let failed: { host: number; seen: number; error: unknown } | null = null;
    for (;;) {
      if (this.#ending()) throw poolEndedError();
      const host = pickNow();
      if (host === null) {
        await this.#waitForNode(pick, deadline, witnessed);
        continue;
      }
      // Not again before the watch has looked again (a status since the failure), unless the decision moved on.
      if (failed !== null && host === failed.host && this.#router.checksSeen() === failed.seen) {
        const { error } = failed;
        const timeout = (): Error =>
          error instanceof Error && !(error instanceof NodeDroppedError) ? error : noNodeFor(this.#settings, pick);
        const since = failed.seen;
        await this.#counted(
          this.#router.wait(() => this.#ending() || pickNow() !== host || this.#router.checksSeen() > since, deadline, timeout),
        );
        continue;
      }
      if (!this.#router.eligible(pick, host) && !this.#pooledOnly(host)) {
        await this.#whileLeaderBusy(host, pick, deadline);
        continue;
      }
      if (pick === 'reader' && this.fallbackFull(host)) {
        await this.#whileFallbackFull(host, pickNow);
        continue;
      }
      const seen = this.#router.checksSeen();
      let client: PooledNodeClient | null = null;
      let error: unknown = null;
      try {
        client = await this.#acquireOn(host, deadline);
      } catch (err) {
        if (this.#ending()) throw poolEndedError();
        if (failoverSignal(err) === null && !tooManyConnections(err)) throw err;
        if (this.#settings.now() >= deadline) throw err instanceof NodeDroppedError ? noNodeFor(this.#settings, pick) : err;
        error = err;
      }
      if (client !== null && eligible(host) && !client.pgSplitLost) return client;
      client?.release(true);
      failed = { host, seen, error };
    }
  }

  /**
   * The silent leader's pool has no connection to spare (a new one would go
   * to its frozen postmaster): waits for one of its clients to be released,
   * a writer to be confirmed, or the episode to end, by events.
   */
  #whileLeaderBusy(host: number, pick: PoolRole, deadline: number): Promise<void> {
    const stop = (): boolean => this.#ending() || this.#pooledOnly(host) || this.#router.witnessed() !== host;
    const ready = (): boolean => stop() || this.#router.hasNode(pick);
    return this.#untilReleased(host, () => this.#router.wait(ready, deadline, () => noNodeFor(this.#settings, pick), true));
  }

  /**
   * Whether the node is the primary reading for want of a standby with
   * `fallbackReads.max` reads of this pool in flight there: its clients
   * checked out or connecting, and checkouts in its queue (pg-pool hands an
   * idle client over on its next tick: counted from the call).
   */
  fallbackFull(host: number): boolean {
    const bound = this.#settings.fallbackReads;
    if (bound === null || !this.#router.isFallbackReader(host)) return false;
    const pool = this.#nodes.existing(host);
    return pool !== undefined && pool.totalCount - pool.idleCount + pool.waitingCount >= bound.max;
  }

  /**
   * The primary reads for want of a standby and its bound is reached: fails
   * at once (`whenFull: 'error'`), or waits until a read there ends, a
   * standby serves, or the pool ends, up to the pool's
   * connectionTimeoutMillis (else failoverTimeoutMillis).
   */
  async #whileFallbackFull(host: number, pickNow: () => number | null): Promise<void> {
    const bound = this.#settings.fallbackReads as NonNullable<RoutedPoolSettings['fallbackReads']>;
    if (bound.whenFull === 'error') throw fallbackFullError(bound.max, null);
    const millis = this.#settings.pool.connectionTimeoutMillis || this.#settings.failoverTimeoutMillis;
    const free = (): boolean => this.#ending() || pickNow() !== host || !this.fallbackFull(host);
    await this.#untilReleased(host, () =>
      this.#router.wait(free, this.#settings.now() + millis, () => fallbackFullError(bound.max, millis)),
    );
  }

  /** A wait (counted in waitingCount) that looks again each time the node's pool gets a client back. */
  async #untilReleased(host: number, wait: () => Promise<void>): Promise<void> {
    const stopWaiting = this.#onRelease(host);
    try {
      await this.#counted(wait());
    } finally {
      stopWaiting();
    }
  }

  /**
   * While checkouts wait for a release on the node's pool: one listener on
   * it, which nudges the waits once pg-pool has put the client back (it
   * emits `release` before). Returns what ends this checkout's interest.
   */
  #onRelease(host: number): () => void {
    const pool = this.#nodes.existing(host);
    if (pool === undefined) return () => undefined;
    let entry = this.#releaseWaits.get(pool);
    if (entry === undefined) {
      const listener = (): void => void setImmediate(() => this.#router.nudge());
      entry = { waiting: 0, listener };
      this.#releaseWaits.set(pool, entry);
      pool.on('release', listener);
    }
    const own = entry;
    own.waiting++;
    return () => {
      if (--own.waiting > 0) return;
      pool.off('release', own.listener);
      this.#releaseWaits.delete(pool);
    };
  }

  /** A wait of a checkout, counted in waitingCount while it lasts. */
  async #counted(wait: Promise<void>): Promise<void> {
    this.#waiting++;
    try {
      await wait;
    } finally {
      this.#waiting--;
    }
  }

  /**
   * Waits for an eligible node (counted in waitingCount); with `witnessed`, a
   * silent leader whose witnesses are known will do. Wakes at once when the
   * pool ends; fails fast when every host refused the login.
   */
  #waitForNode(pick: PoolRole, deadline: number, witnessed: boolean): Promise<void> {
    const router = this.#router;
    const ready = (): boolean => this.#ending() || router.hasNode(pick) || (witnessed && router.witnessed() !== null);
    return this.#counted(router.wait(ready, deadline, () => noNodeFor(this.#settings, pick), true));
  }

  /**
   * Whether a checkout on the node's pool now takes a connection it has (an
   * idle one no earlier checkout is about to take, or the next released when
   * it is full) rather than opening one: a silent leader's frozen postmaster
   * would never answer a new connection.
   */
  #pooledOnly(host: number): boolean {
    const pool = this.#nodes.existing(host);
    return pool !== undefined && (pool.idleCount > pool.waitingCount || pool.totalCount >= (pool.options.max ?? 10));
  }

  /** Checks out a client on one node's pool; a failure that may mean the cluster changed is reported. */
  #acquireOn(host: number, deadline = this.#settings.now() + this.#settings.failoverTimeoutMillis): Promise<PooledNodeClient> {
    const pool = this.#nodes.get(host);
    if (pool === null) return Promise.reject(this.#ending() ? poolEndedError() : noNodeFor(this.#settings, this.#settings.role));
    return new Promise((resolve, reject) =>
      this.#nodes.checkout(pool, (err, client) => {
        if (err === undefined) return resolve(client as PooledNodeClient);
        if (this.#settings.now() < deadline) this.#router.report(host, failoverSignal(err));
        reject(err);
      }),
    );
  }
}
