import { isConnectionEndedError } from '../connect/pg-wire.js';

/**
 * The errors that say the cluster changed under us. Decided by SQLSTATE or
 * socket error code, never by message text (messages are translated).
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

/** Classifies any error pg raised. */
export function failoverSignal(err: unknown): FailoverSignal {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return signalOfSqlstate(code);
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return 'connection-lost';
  if (isConnectionEndedError(err)) return 'connection-lost';
  return null;
}
