/**
 * The errors that say the cluster changed under us. Decided by SQLSTATE,
 * socket error code, or the connection's own events (a pooled connection
 * that saw its connection fail marks the error pg gave it), never by
 * message text (messages are translated).
 */
export type FailoverSignal = 'read-only' | 'shutdown' | 'cannot-connect' | 'connection-lost' | null;

const SIGNALS: Readonly<Record<string, FailoverSignal>> = {
  '25006': 'read-only', // read_only_sql_transaction: the node we wrote to is no longer a primary
  '57P01': 'shutdown', // admin_shutdown
  '57P02': 'shutdown', // crash_shutdown
  '57P03': 'cannot-connect', // cannot_connect_now: starting up, shutting down, in recovery
};

const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'ECONNABORTED']);

export function signalOfSqlstate(sqlstate: string | undefined): FailoverSignal {
  if (sqlstate === undefined) return null;
  if (sqlstate.startsWith('08')) return 'connection-lost'; // class 08: connection exception
  return SIGNALS[sqlstate] ?? null;
}

/**
 * A checkout that waited in a node's pool when pg-split dropped that pool
 * (the node cut, or gone from discovery): it was never sent, so it can go to
 * another node. Never reaches the application (Checkouts turns it into its
 * own timeout error).
 */
export class NodeDroppedError extends Error {
  constructor(hostIndex: number) {
    super(`pg-split: the pool of node ${hostIndex} was dropped while this checkout waited for a connection there`);
  }
}

/** Errors pg gave a pooled connection after its connection failed (pg gives them no code): marked by the connection (NodeClient). */
const CONNECTION_LOST = new WeakSet<Error>();

/** Marks an error pg gave a connection that had already failed (its connection emitted `error` or `end`). */
export function markConnectionLost(err: Error): void {
  CONNECTION_LOST.add(err);
}

/** Classifies any error pg raised. */
export function failoverSignal(err: unknown): FailoverSignal {
  if (!(err instanceof Error)) return null;
  if (err instanceof NodeDroppedError) return 'cannot-connect';
  const code = codeOf(err);
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return signalOfSqlstate(code);
  if (code !== undefined && SOCKET_CODES.has(code)) return 'connection-lost';
  if (CONNECTION_LOST.has(err)) return 'connection-lost';
  return null;
}

/**
 * SQLSTATEs with which the server refused or aborted a statement before its
 * transaction could commit: it was terminated by a shutdown (57P01, 57P02),
 * the server could not take it (57P03), or it was a write on a node that is a
 * standby now (25006). Running it again elsewhere cannot apply it twice.
 */
const NOT_COMMITTED = new Set(['57P01', '57P02', '57P03', '25006']);

/**
 * Whether a failed statement certainly did not commit: the server said so by
 * SQLSTATE, or it was never sent (`neverSent`: its connection had already
 * failed when it was handed to pg, which then refuses it). A connection lost
 * without an answer proves nothing: the commit may have happened.
 */
export function certainlyNotCommitted(err: unknown, neverSent: boolean): boolean {
  if (neverSent) return true;
  const code = codeOf(err);
  return code !== undefined && NOT_COMMITTED.has(code);
}

/**
 * SQLSTATE 53300 too_many_connections: the node refused a new session
 * because its `max_connections` (for roles that are not superusers, less
 * the reserved ones) are taken. Not a failover: the node is fine, and a
 * session frees when a pool or another process goes idle, so a checkout
 * tries it again after the watch's next look, up to its deadline, where
 * pg.Pool fails at once.
 */
export function tooManyConnections(err: unknown): boolean {
  return codeOf(err) === '53300';
}

/**
 * SQLSTATE 40001 serialization_failure: what a standby gives a statement it
 * cancels for a conflict with recovery (a hot standby runs no SERIALIZABLE
 * transaction, so there it means only that; on a primary it is the
 * application's own serialization failure).
 */
export function serializationFailure(err: unknown): boolean {
  return codeOf(err) === '40001';
}

/** The `code` of an error pg raised (a SQLSTATE or a socket error code), if it has one. */
function codeOf(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
