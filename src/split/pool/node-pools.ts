import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { PoolCounter } from '../../connect/pg-wire.js';
import { poolEndedError } from './pool-errors.js';
import { NodeClient, type NodeClientConfig } from './node-client.js';
import type { NodePoolFactory, PoolSettings } from './pool-settings.js';
import { NodeDroppedError } from './sqlstate.js';
import type { NodeReports } from './router.js';

/** pg.Pool events re-emitted from the per-node pools, with pg-pool's arguments, once someone listens to them. */
const FORWARDED_EVENTS: ReadonlySet<string | symbol> = new Set(['connect', 'acquire', 'release', 'remove']);

/** A pg.Pool of NodeClients: what every node pool is outside unit tests. */
const nodePool: NodePoolFactory = (config) => new pg.Pool({ ...config, Client: NodeClient as unknown as new () => pg.ClientBase });

/** What a node pool's checkout is answered with: pg-pool's error or client. */
export type NodeCheckoutCallback = (err: Error | undefined, client: pg.PoolClient | undefined) => void;

/**
 * A checkout sent to a node pool and not answered yet: a link of its pool's
 * list (a Set of the checkouts' closures cost about 180 ns a checkout in
 * hashing, a link about 10 ns).
 */
class Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  settled = false;
  readonly callback: NodeCheckoutCallback;
  constructor(callback: NodeCheckoutCallback) {
    this.callback = callback;
  }
}

/** The checkouts a node pool has not answered yet, as a doubly linked list. */
class WaitingList {
  #head: Waiter | null = null;

  add(waiter: Waiter): void {
    waiter.next = this.#head;
    if (this.#head !== null) this.#head.prev = waiter;
    this.#head = waiter;
  }

  remove(waiter: Waiter): void {
    if (waiter.prev !== null) waiter.prev.next = waiter.next;
    else if (this.#head === waiter) this.#head = waiter.next;
    if (waiter.next !== null) waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = null;
  }

  /** Takes every waiter out of the list. */
  drain(): Waiter[] {
    const all: Waiter[] = [];
    for (let w = this.#head; w !== null; w = w.next) all.push(w);
    this.#head = null;
    return all;
  }
}

/** One node pool's counters. */
export interface NodeUsage {
  readonly hostIndex: number;
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * The ordinary pg.Pools a routed pool holds, one per node, each made on its
 * first checkout from the router's way in to the node, with the routed
 * pool's settings. pg-pool's events are forwarded to the routed pool
 * (`owner`) once it has a listener for them; errors of idle clients only
 * when it listens to `error`. All end together, once (`endAll`).
 */
export class NodePools {
  readonly #pools = new Map<number, pg.Pool>();
  readonly #settings: PoolSettings;
  readonly #router: NodeReports;
  readonly #makePool: NodePoolFactory;
  readonly #owner: EventEmitter;
  /** Events the owner has listeners for: only those are forwarded (every checkout would pay for the others). */
  readonly #forwarded = new Set<string | symbol>();
  #ended: Promise<void> | null = null;
  /** Once endAll() was called: pools still ending (and one for endAll itself), and what to call when none is left. */
  #left = -1;
  readonly #onEnded: Array<() => void> = [];
  /** Per node pool, the checkouts sent to it and not answered yet (checkout()). */
  readonly #waiting = new Map<pg.Pool, WaitingList>();

  constructor(settings: PoolSettings, router: NodeReports, owner: EventEmitter, makePool: NodePoolFactory = nodePool) {
    this.#settings = settings;
    this.#makePool = makePool;
    this.#router = router;
    this.#owner = owner;
    owner.on('newListener', (name: string | symbol) => {
      if (!FORWARDED_EVENTS.has(name) || this.#forwarded.has(name)) return;
      this.#forwarded.add(name);
      for (const pool of this.#pools.values()) this.#forward(pool, name);
    });
  }

  /** The node's pool, made now if it has none; null once endAll() was called or when the node has no way in. */
  get(hostIndex: number): pg.Pool | null {
    const existing = this.#pools.get(hostIndex);
    if (existing !== undefined) return existing;
    if (this.#ended !== null) return null;
    const config = this.#router.configFor(hostIndex);
    if (config === null) return null;
    const nodeConfig: NodeClientConfig & pg.PoolConfig = {
      ...this.#settings,
      ...config,
      pgSplitNode: { router: this.#router, hostIndex },
    };
    const pool = this.#makePool(nodeConfig);
    pool.on('error', (err, client) => this.#owner.listenerCount('error') > 0 && this.#owner.emit('error', err, client));
    for (const name of this.#forwarded) this.#forward(pool, name);
    this.#pools.set(hostIndex, pool);
    return pool;
  }

  /**
   * Checks out a client of a node pool (pg-pool's callback form), the
   * checkout held here until pg-pool answers: when pg-split drops or ends
   * the pool, a checkout still queued in it (pg-pool serves none once a pool
   * ends) fails then (#failWaiting), rather than wait for ever. pg's queue
   * is never touched.
   */
  checkout(pool: pg.Pool, callback: NodeCheckoutCallback): void {
    let list = this.#waiting.get(pool);
    if (list === undefined) this.#waiting.set(pool, (list = new WaitingList()));
    const own = list;
    const waiter = new Waiter(callback);
    own.add(waiter);
    pool.connect((err, client) => {
      // Failed already (the pool was dropped): a client that comes anyway goes back.
      if (waiter.settled) return client?.release();
      waiter.settled = true;
      own.remove(waiter);
      callback(err ?? undefined, client);
    });
  }

  /** Fails every checkout the pool has not answered yet with `error()`. */
  #failWaiting(pool: pg.Pool, error: () => Error): void {
    const waiters = this.#waiting.get(pool);
    this.#waiting.delete(pool);
    for (const waiter of waiters?.drain() ?? []) {
      waiter.settled = true;
      waiter.callback(error(), undefined);
    }
  }

  /** The node's pool if it has one (none is made). */
  existing(hostIndex: number): pg.Pool | undefined {
    return this.#pools.get(hostIndex);
  }

  #forward(pool: pg.Pool, name: string | symbol): void {
    pool.on(name as 'connect', (...args: unknown[]) => this.#owner.emit(name, ...args));
  }

  /** A pg-pool counter added up over the nodes. */
  sum(counter: PoolCounter): number {
    let total = 0;
    for (const p of this.#pools.values()) total += p[counter];
    return total;
  }

  usage(): NodeUsage[] {
    return [...this.#pools].map(([hostIndex, p]) => ({ hostIndex, total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount }));
  }

  /**
   * Whether the node's pool is overloaded: every connection it may open is
   * open and busy, and as many checkouts wait for one as it has (a new one
   * would wait, on average, at least one more statement's time).
   */
  readonly overloaded = (hostIndex: number): boolean => {
    const pool = this.#pools.get(hostIndex);
    if (pool === undefined) return false;
    const max = pool.options.max ?? 10;
    return pool.totalCount >= max && pool.waitingCount - pool.idleCount >= max;
  };

  /** Whether a checkout waits for a client in a full node pool. */
  waiting(): boolean {
    for (const p of this.#pools.values()) if (p.waitingCount > 0) return true;
    return false;
  }

  /** Ends the node's pool (its connections close once released); a later checkout there makes a new one. */
  drop(hostIndex: number): void {
    const pool = this.#pools.get(hostIndex);
    if (pool === undefined) return;
    this.#pools.delete(hostIndex);
    // Checkouts waiting in it would wait for ever (pg-pool serves none once it ends): they go to another node.
    this.#failWaiting(pool, () => new NodeDroppedError(hostIndex));
    // The callback form: the promise form would use the application's `Promise` option, whatever it is.
    pool.end(() => undefined);
  }

  dropAll(): void {
    for (const hostIndex of [...this.#pools.keys()]) this.drop(hostIndex);
  }

  /** Whether endAll() was called and every pool has ended. */
  get ended(): boolean {
    return this.#left === 0;
  }

  /** Runs `fn` once every pool has ended (at once if they have). */
  whenEnded(fn: () => void): void {
    if (this.ended) fn();
    else this.#onEnded.push(fn);
  }

  /**
   * Ends every pool, once: no pool is made from here on, and the promise
   * resolves when each has ended, its checked-out clients released. pg-pool
   * ends a pool with nothing checked out before its end() returns, so with
   * nothing checked out anywhere they have all ended when this returns.
   */
  endAll(): Promise<void> {
    if (this.#ended !== null) return this.#ended;
    this.#ended = new Promise((resolve) => this.#onEnded.unshift(resolve));
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    this.#left = pools.length + 1;
    const oneEnded = (): void => {
      if (--this.#left > 0) return;
      for (const done of this.#onEnded.splice(0)) done();
    };
    for (const pool of pools) {
      // Statements waiting for a connection reject now, as those sent after end() (pg-pool would leave them waiting).
      this.#failWaiting(pool, poolEndedError);
      pool.end(oneEnded);
    }
    oneEnded();
    return this.#ended;
  }
}
