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
  | { readonly kind: 'check-failed' };

/** SQLSTATE 57P03 cannot_connect_now: starting up, shutting down, in recovery. */
export const CANNOT_CONNECT_NOW = '57P03';

export function failureAction(error: AttemptError): FailureAction {
  switch (error.kind) {
    case 'socket':
    case 'timeout':
      return 'next-address';
    case 'rejected':
    case 'check-failed':
      return 'next-host';
    case 'server':
      return error.sqlstate === CANNOT_CONNECT_NOW ? 'next-host' : 'abort';
    case 'eof':
    case 'no-password':
      return 'abort';
  }
}
