import pg from 'pg';
import type { ClientConfig } from 'pg';
import type { AttemptError } from './failure.js';
import { NoPasswordSupplied } from './client-config.js';
import { SERVER_CLOSED, strerror, tlsFailure } from './messages.js';
import { destroySocket, isServerError, onFirstServerByte, wireOf } from './pg-wire.js';

/** What the server reported about itself during startup (ParameterStatus). */
export type StartupParams = ReadonlyMap<string, string>;

export type AttemptOutcome =
  | { readonly ok: true; readonly client: pg.Client; readonly params: StartupParams }
  | { readonly ok: false; readonly error: AttemptError; readonly message: string; readonly tlsRefused: boolean };

interface Observed {
  timedOut: boolean;
  authenticated: boolean;
  /** With TLS asked for: the server's answer to SSLRequest (`N`: refused), else null. */
  tlsAnswer: string | null;
  readonly params: Map<string, string>;
}

function serverErrorText(err: pg.DatabaseError): string {
  let text = `${err.severity ?? 'FATAL'}:  ${err.message}`;
  if (err.detail) text += `\nDETAIL:  ${err.detail}`;
  if (err.hint) text += `\nHINT:  ${err.hint}`;
  return text;
}

/** Turns whatever pg rejected with into libpq's view of the failure. */
function classifyConnectError(err: unknown, seen: Readonly<Observed>): { error: AttemptError; message: string; tlsRefused: boolean } {
  if (seen.timedOut) return { error: { kind: 'timeout' }, message: 'timeout expired', tlsRefused: false };
  if (err instanceof NoPasswordSupplied || (err instanceof Error && err.cause instanceof NoPasswordSupplied)) {
    return { error: { kind: 'no-password' }, message: 'fe_sendauth: no password supplied', tlsRefused: false };
  }
  if (isServerError(err)) {
    const error: AttemptError = { kind: 'server', sqlstate: err.code ?? '', afterAuth: seen.authenticated };
    return { error, message: serverErrorText(err), tlsRefused: false };
  }
  const errno = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  if (errno !== undefined && err instanceof Error && 'syscall' in err) {
    return { error: { kind: 'socket', errno }, message: strerror(errno), tlsRefused: false };
  }
  const tls = tlsFailure(err);
  if (tls !== null) return { error: { kind: 'tls', code: tls.code }, message: tls.message, tlsRefused: false };
  if (seen.tlsAnswer === 'N') {
    return {
      error: { kind: 'socket', errno: 'TLS_REFUSED' },
      message: 'server does not support SSL, but SSL was required',
      tlsRefused: true,
    };
  }
  return { error: { kind: 'eof' }, message: SERVER_CLOSED, tlsRefused: false };
}

function watch(client: pg.Client, seen: Observed, tls: boolean): void {
  const connection = wireOf(client);
  if (tls) {
    onFirstServerByte(client, (byte) => {
      seen.tlsAnswer = byte;
    });
  }
  connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
    seen.params.set(msg.parameterName, msg.parameterValue);
  });
  connection.once('authenticationOk', () => {
    seen.authenticated = true;
  });
}

/**
 * Opens one pg connection to one endpoint, bounded by `timeoutMillis` (0: no
 * bound, as libpq without connect_timeout) and by `signal` (aborted: the
 * attempt fails now). Never throws: the outcome says what happened.
 * ParameterStatus values are collected on the way.
 */
export async function attemptConnection(config: ClientConfig, timeoutMillis: number, signal?: AbortSignal): Promise<AttemptOutcome> {
  const client = new pg.Client(config);
  const seen: Observed = { timedOut: false, authenticated: false, tlsAnswer: null, params: new Map() };
  watch(client, seen, Boolean(config.ssl));
  const swallow = (): void => undefined;
  client.on('error', swallow);
  // Its owner gave up (a monitor closed): the socket goes now, not at the timeout.
  const abandon = (): void => destroySocket(client);
  signal?.addEventListener('abort', abandon, { once: true });
  if (signal?.aborted === true) abandon();
  const timer =
    timeoutMillis > 0
      ? setTimeout(() => {
          seen.timedOut = true;
          destroySocket(client);
        }, timeoutMillis)
      : null;
  try {
    await client.connect();
    if (seen.timedOut) throw new Error('timeout expired');
    return { ok: true, client, params: seen.params };
  } catch (err) {
    destroySocket(client);
    client.end().catch(swallow);
    return { ok: false, ...classifyConnectError(err, seen) };
  } finally {
    if (timer !== null) clearTimeout(timer);
    signal?.removeEventListener('abort', abandon);
    client.removeListener('error', swallow);
  }
}
