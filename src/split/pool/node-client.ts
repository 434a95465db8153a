import pg from 'pg';
import { destroySocket, isEnding, wireOf } from '../../connect/pg-wire.js';
import type { PoolRouter } from './router.js';
import { signalOfSqlstate } from './sqlstate.js';

/** The pool config a NodeClient is built from: pg's own, plus the node it belongs to. */
export interface NodeClientConfig extends pg.ClientConfig {
  readonly pgSplitNode: { readonly router: PoolRouter; readonly hostIndex: number };
}

const ROLE_PARAMETERS = new Set(['in_hot_standby', 'default_transaction_read_only']);

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

  constructor(config: NodeClientConfig) {
    super(config);
    const { router, hostIndex } = config.pgSplitNode;
    this.pgSplitHost = hostIndex;
    router.registry.opened(hostIndex, this);
    const connection = wireOf(this);
    let closed = false;
    const close = (lost: boolean): void => {
      if (lost) this.pgSplitLost = true;
      if (closed) return;
      closed = true;
      router.registry.closed(hostIndex, this);
      if (lost) router.report(hostIndex, 'connection-lost');
    };
    connection.on('errorMessage', (msg: { code?: string }) => router.report(hostIndex, signalOfSqlstate(msg.code)));
    connection.on('parameterStatus', (msg: { parameterName: string }) => {
      if (ROLE_PARAMETERS.has(msg.parameterName)) router.roleReported();
    });
    connection.once('end', () => close(!isEnding(this)));
    this.on('error', () => close(true));
  }

  /** Destroys the socket: a statement in flight fails, the pool drops the client. */
  fence(): void {
    this.pgSplitLost = true;
    destroySocket(this);
  }
}
