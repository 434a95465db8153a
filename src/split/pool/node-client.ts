import pg from 'pg';
import { destroySocket, isEnding, wireOf } from '../../connect/pg-wire.js';
import type { Fenceable } from './connection-registry.js';
import type { NodeReports } from './router.js';
import { markConnectionLost, signalOfSqlstate } from './sqlstate.js';
import { isRoleParameter } from '../../connect/server-state.js';

/** The pool config a NodeClient is built from: pg's own, plus the node it belongs to. */
export interface NodeClientConfig extends pg.ClientConfig {
  readonly pgSplitNode: { readonly router: NodeReports; readonly hostIndex: number };
}

/**
 * Binds a connected-to-be client to its node: counted in the registry (which
 * can fence it) until its connection ends, and every failover signal it sees
 * (by SQLSTATE, from every ErrorResponse on the wire, and connection loss) and
 * every mid-session role report of the server goes to the router.
 */
export function followNode(
  client: pg.Client & Fenceable,
  router: NodeReports,
  hostIndex: number,
  onLost: () => void,
  { listenToErrors = true } = {},
): void {
  router.registry.opened(hostIndex, client);
  const connection = wireOf(client);
  let closed = false;
  const close = (lost: boolean): void => {
    if (lost) onLost();
    if (closed) return;
    closed = true;
    router.registry.closed(hostIndex, client);
    if (lost) router.report(hostIndex, 'connection-lost');
  };
  connection.on('errorMessage', (msg: { code?: string }) => router.report(hostIndex, signalOfSqlstate(msg.code)));
  connection.on('parameterStatus', (msg: { parameterName: string }) => {
    if (isRoleParameter(msg.parameterName)) router.roleReported();
  });
  // A connection error (a socket error, a connect timeout, TLS refused) is a loss: pg hears it after this listener, and
  // rejects what it had (connect, statements) after that.
  connection.once('error', () => close(true));
  connection.once('end', () => close(!isEnding(client)));
  // A client of the application's own (pg-split/pg) gets no listener from pg-split: an error it does not handle is thrown, as pg's.
  if (listenToErrors) client.on('error', () => close(true));
}

/**
 * Waits for a monitor's check running on a checked-out client (it began
 * while the client was idle in its pool, or as a statement gave it back):
 * true when the client may be used; false when the check failed, the client
 * then released with an error so its pool drops it (a statement queued
 * behind the check in pg would have failed without a SQLSTATE).
 */
export async function usableAfterCheck(client: NodeClient & { release(err?: Error): void }, check: Promise<boolean>): Promise<boolean> {
  if (await check) return true;
  client.release(new Error('pg-split: a check on this connection failed'));
  return false;
}

/**
 * A pg.Client bound to one node (pg-pool builds it from the node pool's
 * config): it reports the failover signals it sees (by SQLSTATE, from every
 * ErrorResponse on the wire, and connection loss) and the server's
 * mid-session role reports back to the router, and can be fenced when the
 * node is found down or stale.
 */
export class NodeClient extends pg.Client {
  /** Index of the host this client is connected to. */
  readonly pgSplitHost: number;
  /** True once the connection was lost or fenced. */
  pgSplitLost = false;
  /** True while the application holds it (`connect()` until `release()`). */
  pgSplitCheckedOut = false;
  /** When a statement of `query()` was sent on it (the latency book's clock), 0 while none runs: the writer's watchdog reads it. */
  pgSplitSentAt = 0;
  /**
   * A monitor's check running on the client while it is back in its pool
   * (resolves with whether it went through), else null: a statement that
   * gets it meanwhile waits for it (Checkouts) rather than queue behind it in
   * pg, where the check's failure would fail the statement without a
   * SQLSTATE.
   */
  pgSplitCheck: Promise<boolean> | null = null;

  /** A monitor's check runs on the client (HostMonitor's PooledClient). */
  checkedBy(done: Promise<boolean>): void {
    this.pgSplitCheck = done;
    void done.then(() => {
      if (this.pgSplitCheck === done) this.pgSplitCheck = null;
    });
  }
  /** True once connected (pg's `connect` event). */
  #connected = false;

  constructor(config: NodeClientConfig) {
    super(config);
    const { router, hostIndex } = config.pgSplitNode;
    this.pgSplitHost = hostIndex;
    followNode(this, router, hostIndex, () => {
      this.pgSplitLost = true;
    });
    this.once('connect', () => {
      this.#connected = true;
    });
  }

  /**
   * Connected, not lost or ending, not held by the application, no
   * statement of `query()` running: a monitor's status check may run on it
   * (pg queues a statement sent meanwhile behind it).
   */
  get pgSplitIdle(): boolean {
    return (
      this.#connected &&
      !this.pgSplitLost &&
      !this.pgSplitCheckedOut &&
      this.pgSplitSentAt === 0 &&
      this.pgSplitCheck === null &&
      !isEnding(this)
    );
  }

  /**
   * pg's connect, with its failure marked as a lost connection (failoverSignal)
   * when the connection failed on the way (pg's own error, without a code);
   * a server's refusal keeps its SQLSTATE.
   */
  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const marked = (err: unknown): unknown => {
      if (this.pgSplitLost && err instanceof Error) markConnectionLost(err);
      return err;
    };
    if (callback === undefined) {
      return super.connect().catch((err: unknown) => {
        throw marked(err);
      });
    }
    const settle = callback as (err: unknown, c?: pg.Client) => void;
    super.connect(((err: Error | null, c?: pg.Client) => settle(marked(err), c)) as (err: Error) => void);
  }

  /** Destroys the socket: a statement in flight fails, the pool drops the client. */
  fence(): void {
    this.pgSplitLost = true;
    destroySocket(this);
  }
}
