import { parseLsn } from '../lsn.js';
import { PgSplitError } from '../errors.js';

/** How a read that must see a write position is served (option `sessionReads`). */
export interface FreshnessOptions {
  /** How long to wait for a standby to replay up to the position. */
  readonly waitMillis: number;
  /** After the wait: read on the primary, or fail with PGSPLIT_STALE_READ. */
  readonly fallback: 'primary' | 'error';
}

/** Counters of how fresh reads were served (shown in topology().freshness). */
export interface FreshnessStats {
  /** Reads that had to see a write position. */
  reads: number;
  /** ... served by a standby known (from its last check) to be past it: no extra round trip. */
  knownCaughtUp: number;
  /** ... served by a standby after asking it (one extra round trip, or more while waiting). */
  verified: number;
  /** ... served by the primary (it was a reader anyway, or the wait ran out). */
  onPrimary: number;
  /** ... that fell back to the primary because no standby caught up in time. */
  fellBack: number;
}

export function emptyFreshnessStats(): FreshnessStats {
  return { reads: 0, knownCaughtUp: 0, verified: 0, onPrimary: 0, fellBack: 0 };
}

/** WAL page size of standard PostgreSQL builds (`wal_block_size`). */
const WAL_PAGE = 8192n;
/** Page header sizes: short, and long (first page of a segment). */
const PAGE_HEADERS = new Set([24n, 40n]);

/**
 * Whether a replay position is at or past a required one. A token taken with
 * pg_current_wal_insert_lsn() right after a record that ended on a page
 * boundary points just past the next page's header, where no record has
 * begun; a standby that replayed up to the boundary has everything the token
 * covers (without this, such a read would wait until the next WAL record).
 */
export function caughtUp(replayed: string | null, required: string): boolean {
  if (replayed === null) return false;
  const have = parseLsn(replayed);
  const need = parseLsn(required);
  if (have >= need) return true;
  const intoPage = need % WAL_PAGE;
  return PAGE_HEADERS.has(intoPage) && have >= need - intoPage;
}

export function staleReadError(required: string, waitMillis: number): PgSplitError {
  return new PgSplitError('PGSPLIT_STALE_READ', `pg-split: no standby replayed up to ${required} within ${waitMillis} ms`);
}

/** The checks a fresh read makes, behind an interface so the loop below stays pure of pg. */
export interface FreshReadSteps<C> {
  /** Reader nodes in the order to try (the router's turn first). */
  candidates(): readonly number[];
  isPrimary(host: number): boolean;
  /** The replay position a node had at its last check. */
  knownReplay(host: number): string | null;
  checkout(host: number): Promise<C>;
  /** Asks the node on this connection how far it has replayed. */
  replayedOn(client: C): Promise<string | null>;
  release(client: C): void;
  checkoutPrimary(): Promise<C>;
  sleep(millis: number): Promise<void>;
}

/**
 * Serves a read that must see `required`: a node known to be past it, else a
 * standby that says it is (asking on the read's own connection), else waits
 * (polling every 5 ms) up to `waitMillis`, then the primary or an error.
 */
export async function freshRead<C>(steps: FreshReadSteps<C>, required: string, options: FreshnessOptions, stats: FreshnessStats): Promise<C> {
  stats.reads++;
  const deadline = Date.now() + options.waitMillis;
  for (;;) {
    const candidates = steps.candidates();
    const known = candidates.find((h) => !steps.isPrimary(h) && caughtUp(steps.knownReplay(h), required));
    if (known !== undefined) {
      stats.knownCaughtUp++;
      return steps.checkout(known);
    }
    const primary = candidates.find((h) => steps.isPrimary(h));
    if (primary !== undefined) {
      stats.onPrimary++;
      return steps.checkout(primary);
    }
    for (const host of candidates.filter((h) => !steps.isPrimary(h))) {
      const client = await steps.checkout(host);
      if (caughtUp(await steps.replayedOn(client), required)) {
        stats.verified++;
        return client;
      }
      steps.release(client);
    }
    if (Date.now() >= deadline) break;
    await steps.sleep(5);
  }
  if (options.fallback === 'error') throw staleReadError(required, options.waitMillis);
  stats.onPrimary++;
  stats.fellBack++;
  return steps.checkoutPrimary();
}
