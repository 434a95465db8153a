import { existsSync } from 'node:fs';

/**
 * The directory an empty host element means. libpq's is compiled in
 * (`/tmp` upstream, `/var/run/postgresql` on Debian and Red Hat builds);
 * we take the first of those that exists.
 */
export function defaultSocketDir(): string {
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}
