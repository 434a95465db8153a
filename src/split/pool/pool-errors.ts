/** The errors a routed pool's checkouts end with, pg-pool's words where it has them. */
import { PgSplitError } from '../../errors.js';
import type { PoolRole } from '../../roles/role-decision.js';

/** A statement or checkout on a pool after its end() was called: pg-pool's words. */
export function poolEndedError(): PgSplitError {
  return new PgSplitError('PGSPLIT_ENDED', 'Cannot use a pool after calling end on the pool');
}

/** No node of the role came within `millis`: a checkout's (and a pg-split/pg Client's) timeout, with why each node was not eligible. */
export function noNodeError(role: PoolRole, millis: number, describe: () => string): PgSplitError {
  const what = role === 'writer' ? 'a read-write primary' : 'an eligible node for reads';
  const code = role === 'writer' ? 'PGSPLIT_FAILOVER_TIMEOUT' : 'PGSPLIT_NO_READER';
  // "timeout exceeded", as pg-pool words a checkout that waited too long.
  return new PgSplitError(code, `pg-split: timeout exceeded waiting for ${what} (${millis} ms)\n${describe()}`);
}

/** A read the primary, reading for want of a standby, cannot take: `fallbackReads.max` reads run there already. */
export function fallbackFullError(max: number, waitedMillis: number | null): PgSplitError {
  const waited = waitedMillis === null ? '' : ` after waiting ${waitedMillis} ms`;
  return new PgSplitError(
    'PGSPLIT_FALLBACK_FULL',
    `pg-split: the primary, serving reads while no standby is eligible, has ${max} reads in flight (fallbackReads.max)${waited}`,
  );
}
