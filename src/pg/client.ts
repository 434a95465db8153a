import pg from 'pg';
import { aimClient, destroySocket } from '../connect/pg-wire.js';
import { followNode } from '../split/pool/node-client.js';
import type { SplitRuntime } from '../split/split-runtime.js';
import { routedConfig, type PgSplitConfigOptions, type Routed } from './pg-config.js';
import { acquireRuntime, releaseRuntime } from './shared-runtimes.js';

/** pg.Client's config, and pg-split's options for a config that names several hosts. */
export interface ClientConfig extends Omit<pg.ClientConfig, 'port'> {
  /** A port, or libpq's list of ports (one per host). */
  readonly port?: number | string | undefined;
  readonly pgSplit?: PgSplitConfigOptions;
  readonly target_session_attrs?: string;
  readonly load_balance_hosts?: string;
}

/**
 * The config keys that say where to connect: a routed Client learns them
 * from its node in connect(). `ssl` is passed on, so `connectionParameters.ssl`
 * is the config's until then (pg hides its `key`), as on a pg.Client.
 */
const WHERE = new Set(['connectionString', 'host', 'port', 'password', 'target_session_attrs', 'load_balance_hosts', 'pgSplit']);

/** What pg's constructor is given for a routed Client: the application's other keys, the target's user, database and startup options. */
function constructorConfig(config: unknown, routed: Routed): pg.ClientConfig {
  const own = typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {};
  const rest = Object.fromEntries(Object.entries(own).filter(([k]) => !WHERE.has(k)));
  const { target } = routed;
  const startup = Object.fromEntries(
    ['application_name', 'options', 'client_encoding', 'fallback_application_name'].flatMap((k) => {
      const v = target.option(k);
      return v ? [[k, v]] : [];
    }),
  );
  return { ...rest, ...startup, user: target.user, database: target.dbname, host: target.hosts[0]?.host ?? 'localhost', port: 5432 };
}

type ConnectCallback = (err: Error | null, client?: pg.Client) => void;

/**
 * pg.Client, reading its config as libpq would. A config pg serves as it is
 * (one host, no multi-host keyword, no `pgSplit`) makes a plain pg.Client.
 * Any other connects, in `connect()`, to a node of the cluster runtime
 * shared by every Pool and Client of the process that names the same
 * servers, chosen by its target_session_attrs (the primary for `read-write`,
 * a standby for `standby`, ...), and is cut (its `error`, then `end`, as
 * when the server ends a session) once that node no longer serves it:
 * demoted, a stale primary, frozen, lagging past the limit.
 */
export class Client extends pg.Client {
  readonly #routed: Routed | null;
  #runtime: SplitRuntime | null = null;
  /** connect() waits for its node (no socket yet): end() called meanwhile waits for it (#endRequests). */
  #waitingForNode = false;
  readonly #endRequests: Array<() => void> = [];
  /** The config's `Promise`, pg's option for the class of the promises it returns. */
  readonly #Promise: PromiseConstructor;

  constructor(config?: string | ClientConfig) {
    const routed = routedConfig(config);
    super(routed === null ? (config as string | pg.ClientConfig | undefined) : constructorConfig(config, routed));
    this.#routed = routed;
    const PromiseClass = typeof config === 'object' ? (config as { Promise?: unknown }).Promise : undefined;
    this.#Promise = typeof PromiseClass === 'function' ? (PromiseClass as PromiseConstructor) : Promise;
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const routed = this.#routed;
    if (routed === null || this.#runtime !== null) return callback === undefined ? super.connect() : super.connect(callback);
    if (callback === undefined) return this.#promised(this.#connectRouted(routed, null));
    const done = callback as ConnectCallback;
    // A failure before pg's own connect (no node for the role) is called back outside the promise, as pg calls it:
    // what the callback throws is an uncaught exception, not a rejection. A success is called back by pg itself.
    this.#connectRouted(routed, done).catch((err: Error) => process.nextTick(() => done(err)));
  }

  /**
   * pg's end(). Called while connect() waits for a node (no socket yet), it
   * takes effect once the client starts connecting there: pg's end() of a
   * client that is connecting, with pg's outcome (queries queued in pipeline
   * mode complete first; a connect() with nothing queued never settles).
   */
  override end(): Promise<void>;
  override end(callback: (err?: Error) => void): void;
  override end(callback?: (err?: Error) => void): Promise<void> | void {
    if (!this.#waitingForNode) return callback === undefined ? super.end() : super.end(callback);
    const ended = new Promise<void>((resolve) => this.#endRequests.push(resolve));
    if (callback === undefined) return this.#promised(ended);
    void ended.then(() => process.nextTick(() => callback()));
  }

  /** As pg's: a promise of the config's `Promise` class (bluebird, ...) when one was given. */
  #promised<T>(promise: Promise<T>): Promise<T> {
    const Custom = this.#Promise;
    return Custom === Promise
      ? promise
      : new Custom<T>((resolve, reject) => {
          promise.then(resolve, reject);
        });
  }

  /**
   * Waits for a node of the role, aims the client there and connects it.
   * With `callback`, pg's own connect calls it, as a pg.Client's: from its
   * ReadyForQuery handler, before the client takes queries, so a query made
   * in it waits in pg's queue (and an end() there ends the client before it
   * is sent).
   */
  async #connectRouted(routed: Routed, callback: ConnectCallback | null): Promise<pg.Client> {
    const runtime = acquireRuntime(routed);
    this.#runtime = runtime;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      runtime.unfollow(this);
      releaseRuntime(routed, runtime);
    };
    try {
      this.#waitingForNode = true;
      const { hostIndex, config } = await runtime.nodeFor(routed.role).finally(() => {
        this.#waitingForNode = false;
      });
      aimClient(this, config);
      followNode(this, runtime.router, hostIndex, () => undefined, { listenToErrors: false });
      this.once('end', release);
      const connecting = new Promise<void>((resolve, reject) => {
        super.connect((err: Error | null) => {
          if (err) {
            reject(err);
            return;
          }
          runtime.follow(this, routed.role, hostIndex);
          resolve();
          callback?.(null, this);
        });
      });
      // end() called while the node was awaited: now, as on a pg.Client that is connecting.
      const endRequests = this.#endRequests.splice(0);
      if (endRequests.length > 0) void super.end().then(() => endRequests.forEach((resolve) => resolve()));
      await connecting;
      return this;
    } catch (err) {
      release();
      // Never connected: an end() asked for meanwhile is done.
      this.#endRequests.splice(0).forEach((resolve) => resolve());
      throw err;
    }
  }

  /** Held by the application for as long as it is open: a transaction may be under way. */
  get pgSplitCheckedOut(): boolean {
    return true;
  }

  /** Cuts the connection: a statement in flight fails, `error` then `end` are emitted (pg's "Connection terminated unexpectedly"). */
  fence(): void {
    destroySocket(this);
  }
}
