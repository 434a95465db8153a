/**
 * What libpq does after a failed attempt on one address (reference §2.4):
 * try the next address of the same host, skip to the next host, or abort the
 * whole connection attempt.
 */
export type FailureAction = 'next-address' | 'next-host' | 'abort';

/** A failed attempt as the host walk sees it. */
export type AttemptError =
  | { readonly kind: 'socket'; readonly errno: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'server'; readonly sqlstate: string; readonly afterAuth: boolean }
  | { readonly kind: 'eof' }
  | { readonly kind: 'no-password' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'check-failed' }
  /** The port is not an integer (`fatal`: libpq gives up on the whole string) or out of range. */
  | { readonly kind: 'port'; readonly fatal: boolean }
  /** The host name did not resolve, or the hostaddr is not an address. */
  | { readonly kind: 'resolve' }
  /** The TLS handshake failed: the server's certificate did not verify, or the client's TLS material is unusable (Node's code). */
  | { readonly kind: 'tls'; readonly code: string };

/** SQLSTATE 57P03 cannot_connect_now: starting up, shutting down, in recovery. */
const CANNOT_CONNECT_NOW = '57P03';

export function failureAction(error: AttemptError): FailureAction {
  switch (error.kind) {
    case 'socket':
    case 'timeout':
      return 'next-address';
    case 'rejected':
    case 'check-failed':
    case 'resolve':
      return 'next-host';
    case 'server':
      return error.sqlstate === CANNOT_CONNECT_NOW ? 'next-host' : 'abort';
    case 'port':
      return error.fatal ? 'abort' : 'next-host';
    case 'eof':
    case 'no-password':
    case 'tls':
      return 'abort';
  }
}

/**
 * Login refusals that waiting will not cure: authentication failed
 * (28P01, 28000: wrong password, no such role, pg_hba reject), no such
 * database (3D000), no CONNECT privilege (42501), no password to send, a
 * port that is not one, a server without TLS when the sslmode requires it,
 * or a TLS handshake that failed on certificates. Anything else (down, starting up, too many
 * connections, a name that does not resolve) may pass.
 */
const PERMANENT_SQLSTATES = new Set(['28P01', '28000', '3D000', '42501']);

/**
 * Failures that say no server is there: the address refuses connections (or
 * a unix socket does not exist), or the name does not resolve. A server that
 * is starting answers `57P03` and a frozen one times out: neither is this.
 */
export function isNoServer(error: AttemptError): boolean {
  if (error.kind === 'resolve') return true;
  return error.kind === 'socket' && (error.errno === 'ECONNREFUSED' || error.errno === 'ENOENT');
}

export function isPermanentRefusal(error: AttemptError): boolean {
  switch (error.kind) {
    case 'server':
      return PERMANENT_SQLSTATES.has(error.sqlstate);
    // A certificate that does not verify, or a key that does not load (tls), does not on the next try either.
    case 'no-password':
    case 'port':
    case 'tls':
      return true;
    // A server that refused TLS when the sslmode requires it (its configuration, which a retry does not change).
    case 'socket':
      return error.errno === 'TLS_REFUSED';
    default:
      return false;
  }
}
