import type { EventEmitter } from 'node:events';
import type pg from 'pg';

/**
 * The one place pg-split reaches below pg.Client's public API: its protocol
 * connection, which emits every message (`parameterStatus`,
 * `authenticationOk`, `errorMessage`, `end`) and owns the socket.
 */
interface WireConnection extends EventEmitter {
  readonly stream?: { destroy(): void };
}

export function wireOf(client: pg.Client): WireConnection {
  return (client as unknown as { connection: WireConnection }).connection;
}

/** Cuts the client's socket at once: a statement in flight fails, the client ends. */
export function destroySocket(client: pg.Client): void {
  wireOf(client).stream?.destroy();
}
