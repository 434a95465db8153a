import pg from 'pg';
import { PgSplitError } from '../errors.js';
import { nodeClientClass, type NodeClient } from './node-client.js';
import type { PoolSettings } from './options.js';
import type { PoolRole, Router } from './router.js';
import { failoverSignal } from './sqlstate.js';

type Callback = (err: Error | undefined, client?: pg.PoolClient, done?: (release?: any) => void) => void;
type PooledNodeClient = pg.PoolClient & NodeClient;

export interface RoutedPoolSettings {
  readonly role: PoolRole;
  readonly router: Router;
  readonly pool: PoolSettings;
  /** How long a checkout waits for an eligible node (a writer: the new primary during a failover). */
  readonly failoverTimeoutMillis: number;
  /** Describes why no node is eligible, for the timeout error. */
  readonly describe: () => string;
}

const FORWARDED_EVENTS = ['connect', 'acquire', 'release', 'remove'] as const;

function noNodeError(settings: RoutedPoolSettings): PgSplitError {
  const what = settings.role === 'writer' ? 'no read-write primary' : 'no eligible node for reads';
  const code = settings.role === 'writer' ? 'PGSPLIT_FAILOVER_TIMEOUT' : 'PGSPLIT_NO_READER';
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
 * writer's is the current primary, the reader's the next eligible node.
 * A checkout waits (up to failoverTimeoutMillis) for an eligible node and
 * retries a connection that failed before any statement was sent. The
 * reader's `query()` also retries, once and on another node, a read whose
 * connection was lost before it returned. `max` and the other settings apply
 * to each node's pool.
 */
export function routedPoolClass(settings: RoutedPoolSettings): new () => pg.Pool {
  const { role, router } = settings;

  class RoutedPool extends pg.Pool {
    readonly #nodes = new Map<number, pg.Pool>();

    constructor() {
      super({ ...settings.pool });
      router.onFence((hostIndex) => this.#dropNode(hostIndex));
    }

    override connect(): Promise<pg.PoolClient>;
    override connect(callback: Callback): void;
    override connect(callback?: Callback): Promise<pg.PoolClient> | void {
      const acquired = this.#acquire(null);
      if (callback === undefined) return acquired;
      acquired.then((client) => callback(undefined, client, client.release), (err: Error) => callback(err));
    }

    override query(...args: unknown[]): any {
      const [first] = args;
      if (isSubmittable(first) || typeof first === 'function') return (super.query as (...a: unknown[]) => unknown)(...args);
      const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (err?: Error, res?: unknown) => void) : undefined;
      const result = this.#run(args, role === 'reader' ? 2 : 1);
      if (callback === undefined) return result;
      result.then((res) => callback(undefined, res), (err: Error) => callback(err));
      return undefined;
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

    #nodePool(hostIndex: number): pg.Pool | null {
      const existing = this.#nodes.get(hostIndex);
      if (existing !== undefined) return existing;
      const config = router.configFor(hostIndex);
      if (config === null) return null;
      const pool = new pg.Pool({ ...settings.pool, ...config, Client: nodeClientClass(router, hostIndex) });
      pool.on('error', (err, client) => this.listenerCount('error') > 0 && this.emit('error', err, client));
      for (const name of FORWARDED_EVENTS) pool.on(name, (client: pg.PoolClient) => this.emit(name, client));
      this.#nodes.set(hostIndex, pool);
      return pool;
    }

    #dropNode(hostIndex: number): void {
      const pool = this.#nodes.get(hostIndex);
      if (pool === undefined) return;
      this.#nodes.delete(hostIndex);
      pool.end().catch(() => undefined);
    }

    /** Checks out a client on an eligible node, not on `avoid` when another node is eligible. */
    async #acquire(avoid: number | null): Promise<pg.PoolClient> {
      if (this.ending) throw new Error('Cannot use a pool after calling end on the pool');
      const deadline = Date.now() + settings.failoverTimeoutMillis;
      for (;;) {
        await router.waitFor(role, deadline, () => noNodeError(settings));
        const host = router.pick(role, avoid);
        const pool = host === null ? null : this.#nodePool(host);
        if (host === null || pool === null) continue;
        let client: PooledNodeClient;
        try {
          client = (await pool.connect()) as PooledNodeClient;
        } catch (err) {
          if (this.ending || failoverSignal(err) === null || Date.now() >= deadline) throw err;
          router.report(host, failoverSignal(err));
          continue;
        }
        if (router.eligible(role, host) && !client.pgSplitLost) return client;
        client.release(true);
      }
    }

    /** One statement on a checked-out client, released afterwards; a lost reader connection is retried elsewhere. */
    async #run(args: unknown[], tries: number): Promise<pg.QueryResult> {
      let avoid: number | null = null;
      for (let attempt = 1; ; attempt++) {
        const client = (await this.#acquire(avoid)) as PooledNodeClient;
        try {
          const result = await (client.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args);
          client.release();
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
