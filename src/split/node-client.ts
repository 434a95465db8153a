import pg from 'pg';
import { destroySocket, wireOf } from '../connect/pg-wire.js';
import type { Router } from './router.js';
import { signalOfSqlstate } from './sqlstate.js';

/** What a pooled client of pg-split knows about where it is connected. */
export interface NodeClient extends pg.Client {
  /** Index of the host this client is connected to. */
  readonly pgSplitHost: number;
  /** True once the connection was lost or fenced. */
  readonly pgSplitLost: boolean;
  /** Destroys the socket: a statement in flight fails, the pool drops the client. */
  fence(): void;
}

/**
 * A pg.Client subclass bound to one node: it reports the failover signals it
 * sees (by SQLSTATE, from every ErrorResponse on the wire, and connection
 * loss) and the server's mid-session role reports back to the router, and
 * can be fenced when the node is found down or stale.
 */
export function nodeClientClass(router: Router, hostIndex: number): typeof pg.Client {
  return class extends pg.Client implements NodeClient {
    readonly pgSplitHost = hostIndex;
    pgSplitLost = false;

    constructor(config?: pg.ClientConfig) {
      super(config);
      router.opened(hostIndex, this);
      const connection = wireOf(this);
      let closed = false;
      const close = (lost: boolean): void => {
        if (lost) this.pgSplitLost = true;
        if (closed) return;
        closed = true;
        router.closed(hostIndex, this);
        if (lost) router.report(hostIndex, 'connection-lost');
      };
      connection.on('errorMessage', (msg: { code?: string }) => router.report(hostIndex, signalOfSqlstate(msg.code)));
      connection.on('parameterStatus', (msg: { parameterName: string }) => {
        if (msg.parameterName === 'in_hot_standby' || msg.parameterName === 'default_transaction_read_only') router.roleReported();
      });
      connection.once('end', () => close(!(this as unknown as { _ending: boolean })._ending));
      this.on('error', () => close(true));
    }

    fence(): void {
      this.pgSplitLost = true;
      destroySocket(this);
    }
  };
}
