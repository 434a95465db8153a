import pg from 'pg';
import { PgSplitError } from '../errors.js';
import { freshRead, type FreshnessOptions, type FreshnessStats, type FreshReadSteps } from './freshness.js';
import { nodeClientClass, type NodeClient } from './node-client.js';
import type { PoolSettings } from './options.js';
import { currentReadRequirement, requirementOfQuery, type ReadRequirement } from './read-scope.js';
import type { PoolRole, Router } from './router.js';
import { failoverSignal } from './sqlstate.js';
import type { WriteTracker } from './write-tracker.js';

type Callback = (err: Error | undefined, client?: pg.PoolClient, done?: (release?: any) => void) => void;
type PooledNodeClient = pg.PoolClient & NodeClient;

/** Runs a statement on the writer without counting it as a write (the write-token fetch itself). */
export const UNTRACKED_QUERY = Symbol('pg-split untracked query');

export interface RoutedPoolSettings {
  readonly role: PoolRole;
  readonly router: Router;
  readonly pool: PoolSettings;
  /** How long a checkout waits for an eligible node (a writer: the new primary during a failover). */
  readonly failoverTimeoutMillis: number;
  /** Describes why no node is eligible, for the timeout error. */
  readonly describe: () => string;
  readonly tracker: WriteTracker;
  /** 'session': every read sees every write acknowledged through this writer before it started. */
  readonly consistency: 'eventual' | 'session';
  readonly freshness: FreshnessOptions;
  readonly stats: FreshnessStats;
}

/** pg.Pool events re-emitted from the per-node pools, with pg-pool's arguments, once someone listens to them. */
const FORWARDED_EVENTS: ReadonlySet<string | symbol> = new Set(['connect', 'acquire', 'release', 'remove']);
const NO_REQUIREMENT: ReadRequirement = Object.freeze({});

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
export function routedPoolClass(settings: RoutedPoolSettings): new () => pg.Pool {
  const { role, router } = settings;

  class RoutedPool extends pg.Pool {
    readonly #nodes = new Map<number, pg.Pool>();

    /** Events someone listens to: only those are forwarded (every checkout would pay for the others). */
    readonly #forwarded = new Set<string | symbol>();

    constructor() {
      super({ ...settings.pool });
      router.onFence((hostIndex) => this.#dropNode(hostIndex));
      (this as unknown as NodeJS.EventEmitter).on('newListener', (name: string | symbol) => {
        if (!FORWARDED_EVENTS.has(name) || this.#forwarded.has(name)) return;
        this.#forwarded.add(name);
        for (const pool of this.#nodes.values()) this.#forward(pool, name);
      });
    }

    #forward(pool: pg.Pool, name: string | symbol): void {
      pool.on(name as 'connect', (...args: unknown[]) => this.emit(name, ...args));
    }

    override connect(): Promise<pg.PoolClient>;
    override connect(callback: Callback): void;
    override connect(callback?: Callback): Promise<pg.PoolClient> | void {
      const acquired = this.#checkout(currentReadRequirement(), null).then((client) => this.#trackRelease(client));
      if (callback === undefined) return acquired;
      acquired.then((client) => callback(undefined, client, client.release), (err: Error) => callback(err));
    }

    override query(...args: unknown[]): any {
      const [first] = args;
      if (isSubmittable(first) || typeof first === 'function') return (super.query as (...a: unknown[]) => unknown)(...args);
      const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (err?: Error, res?: unknown) => void) : undefined;
      // The writer ignores read requirements: no scope lookup on its path.
      const result = role === 'writer'
        ? this.#run(args, NO_REQUIREMENT, 1, true)
        : this.#run(args, { ...currentReadRequirement(), ...requirementOfQuery(first) }, 2, false);
      if (callback === undefined) return result;
      result.then((res) => callback(undefined, res), (err: Error) => callback(err));
      return undefined;
    }

    [UNTRACKED_QUERY](text: string): Promise<pg.QueryResult> {
      return this.#run([text], NO_REQUIREMENT, 1, false);
    }

    override async end(callback?: () => void): Promise<void> {
      if (this.ending) return callback?.();
      const pools = [...this.#nodes.values()];
      this.#nodes.clear();
      await Promise.allSettled(pools.map((p) => p.end()));
      await super.end();
      callback?.();
    }

    // pg-pool defines its counters as getters on the prototype; these add up the per-node pools.
    static {
      for (const name of ['totalCount', 'idleCount', 'waitingCount', 'expiredCount'] as const) {
        Object.defineProperty(RoutedPool.prototype, name, {
          configurable: true,
          get(this: RoutedPool) {
            return this.#sum((p) => p[name]);
          },
        });
      }
    }

    #sum(count: (p: pg.Pool) => number): number {
      let total = 0;
      for (const p of this.#nodes.values()) total += count(p);
      return total;
    }

    /** A writer checkout counts as a write when it is released (its statements are acknowledged by then). */
    #trackRelease(client: pg.PoolClient): pg.PoolClient {
      if (role !== 'writer') return client;
      const release = client.release;
      client.release = (err?: Error | boolean) => {
        settings.tracker.noteWrite();
        return release(err);
      };
      return client;
    }

    #nodePool(hostIndex: number): pg.Pool | null {
      const existing = this.#nodes.get(hostIndex);
      if (existing !== undefined) return existing;
      const config = router.configFor(hostIndex);
      if (config === null) return null;
      const pool = new pg.Pool({ ...settings.pool, ...config, Client: nodeClientClass(router, hostIndex) });
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

    /** A checkout honouring the read requirement (reader) or on the primary (writer). */
    #checkout(requirement: ReadRequirement, avoid: number | null): Promise<PooledNodeClient> {
      if (role === 'writer' || requirement.primary) return this.#acquire('writer', avoid);
      if (requirement.after === undefined && settings.consistency === 'eventual') return this.#acquire('reader', avoid);
      return this.#freshCheckout(requirement, avoid);
    }

    async #freshCheckout(requirement: ReadRequirement, avoid: number | null): Promise<PooledNodeClient> {
      const required = requirement.after ?? (await settings.tracker.required());
      if (required === null) return this.#acquire('reader', avoid);
      return freshRead(this.#freshSteps(), required, settings.freshness, settings.stats);
    }

    #freshSteps(): FreshReadSteps<PooledNodeClient> {
      return {
        candidates: () => router.inTurn('reader'),
        isPrimary: (host) => router.isWriter(host),
        knownReplay: (host) => router.knownReplay(host),
        checkout: (host) => this.#acquireOn(host),
        replayedOn: async (client) => (await client.query<{ lsn: string | null }>('SELECT pg_catalog.pg_last_wal_replay_lsn()::text AS lsn')).rows[0]?.lsn ?? null,
        release: (client) => client.release(),
        checkoutPrimary: () => this.#acquire('writer', null),
        sleep: (millis) => new Promise((r) => setTimeout(r, millis)),
      };
    }

    /** Checks out a client on an eligible node of `pick`, not on `avoid` when another node is eligible. */
    async #acquire(pick: PoolRole, avoid: number | null): Promise<PooledNodeClient> {
      if (this.ending) throw new Error('Cannot use a pool after calling end on the pool');
      const deadline = Date.now() + settings.failoverTimeoutMillis;
      for (;;) {
        const host = router.pick(pick, avoid);
        if (host === null) {
          await router.waitFor(pick, deadline, () => noNodeError(settings, pick));
          continue;
        }
        let client: PooledNodeClient | null = null;
        try {
          client = await this.#acquireOn(host, deadline);
        } catch (err) {
          if (this.ending || failoverSignal(err) === null || Date.now() >= deadline) throw err;
        }
        if (client !== null && router.eligible(pick, host) && !client.pgSplitLost) return client;
        client?.release(true);
        // The node failed or changed role; give its monitor a moment to see it before trying again.
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    /** Checks out a client on one node's pool; a failure that may mean the cluster changed is reported. */
    #acquireOn(host: number, deadline = Date.now() + settings.failoverTimeoutMillis): Promise<PooledNodeClient> {
      const pool = this.#nodePool(host);
      if (pool === null) return Promise.reject(noNodeError(settings, role));
      return (pool.connect() as Promise<PooledNodeClient>).catch((err: unknown) => {
        if (Date.now() < deadline) router.report(host, failoverSignal(err));
        throw err;
      });
    }

    /**
     * One statement on a checked-out client, released afterwards; a lost
     * reader connection is retried elsewhere. `tracked`: an acknowledged
     * writer statement, which later session-consistent reads must see.
     */
    async #run(args: unknown[], requirement: ReadRequirement, tries: number, tracked: boolean): Promise<pg.QueryResult> {
      let avoid: number | null = null;
      for (let attempt = 1; ; attempt++) {
        const client = await this.#checkout(requirement, avoid);
        try {
          const result = await (client.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args);
          client.release();
          if (tracked) settings.tracker.noteWrite();
          return result;
        } catch (err) {
          const retry = attempt < tries && lostConnection(client, err);
          client.release(err instanceof Error ? err : true);
          if (!retry) throw err;
          avoid = client.pgSplitHost;
        }
      }
    }
  }
  return RoutedPool;
}
