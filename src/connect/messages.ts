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
