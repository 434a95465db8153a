/** strerror() texts (glibc) for the socket errors Node reports by errno name. */
const STRERROR: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EPIPE: 'Broken pipe',
  ENOTDIR: 'Not a directory',
  ECONNABORTED: 'Software caused connection abort',
};

export function strerror(errno: string): string {
  return STRERROR[errno] ?? errno;
}

/** Where an attempt went, for libpq's `connection to server ...` prefix. */
export type Endpoint =
  | {
      readonly kind: 'tcp';
      readonly displayHost: string;
      readonly address: string;
      readonly isHostaddr: boolean;
      readonly port: number;
      readonly displayPort: string;
    }
  | { readonly kind: 'socket'; readonly dir: string; readonly port: number };

function socketPath(endpoint: { readonly dir: string; readonly port: number }): string {
  return `${endpoint.dir}/.s.PGSQL.${endpoint.port}`;
}

/** libpq's `emitHostIdentityInfo`. */
export function hostIdentity(endpoint: Endpoint): string {
  if (endpoint.kind === 'socket') return `connection to server on socket "${socketPath(endpoint)}" failed: `;
  const showAddress = !endpoint.isHostaddr && endpoint.address !== endpoint.displayHost;
  const address = showAddress ? ` (${endpoint.address})` : '';
  return `connection to server at "${endpoint.displayHost}"${address}, port ${endpoint.displayPort} failed: `;
}

export function connectHint(endpoint: Endpoint): string {
  return endpoint.kind === 'socket'
    ? '\n\tIs the server running locally and accepting connections on that socket?'
    : '\n\tIs the server running on that host and accepting TCP/IP connections?';
}

export const SERVER_CLOSED =
  'server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.';

/** OpenSSL's certificate verification results, as Node names them (tls: X509 certificate error codes). */
const X509_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * A TLS handshake failure in libpq's words, with Node's code, or null when
 * `err` is not one: a certificate that does not verify is libpq's `SSL
 * error: certificate verify failed` (OpenSSL's reason after it); a host name
 * the certificate does not name, or TLS material that does not load (a key,
 * a certificate), `SSL error:` and Node's text.
 */
export function tlsFailure(err: unknown): { readonly code: string; readonly message: string } | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  if (X509_VERIFY_CODES.has(code)) return { code, message: `SSL error: certificate verify failed (${err.message})` };
  if (/^ERR_(TLS|SSL|OSSL)_/.test(code)) return { code, message: `SSL error: ${err.message}` };
  return null;
}
