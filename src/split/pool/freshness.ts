import { parseLsn } from '../../lsn.js';
import { PgSplitError } from '../../errors.js';
import type { FreshnessStats } from '../../telemetry/freshness-stats.js';

/** How a read that must see a write position is served (option `sessionReads`). */
export interface FreshnessOptions {
  /** How long to wait for a standby to replay up to the position. */
  readonly waitMillis: number;
  /** After the wait: read on the primary, or fail with PGSPLIT_STALE_READ. */
  readonly fallback: 'primary' | 'error';
}

/** Counters of how fresh reads were served (shown in topology().freshness). */

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

function staleReadError(required: string, waitMillis: number): PgSplitError {
  return new PgSplitError('PGSPLIT_STALE_READ', `pg-split: no standby replayed up to ${required} within ${waitMillis} ms`);
}

/** The checks a fresh read makes, behind an interface so the loop below stays pure of pg. */
export interface FreshReadSteps<C> {
  /** Reader nodes in the order to try (the router's turn first). */
  candidates(): readonly number[];
  isPrimary(host: number): boolean;
  /** The furthest replay position known for a node: its last status check, or a replay check a read made. */
  knownReplay(host: number): string | null;
  /** The replay check running on the node, while it runs. */
  replayCheckInFlight(host: number): Promise<string | null> | null;
  /** A replay check on the node newer than this call, shared with other reads (null: no answer). */
  replayCheck(host: number): Promise<string | null>;
  checkout(host: number): Promise<C>;
  checkoutPrimary(): Promise<C>;
  /** The clock the wait's deadline is read on, and the pause between polls. */
  now(): number;
  sleep(millis: number): Promise<void>;
}

/**
 * Serves a read that must see `required`: a node known to be past it, else
 * a standby that the running replay checks (or any answer that came in while
 * waiting for them) show past it, else a standby whose next check says it
 * is, else waits (polling every 5 ms) up to `waitMillis`, then the primary or
 * an error. Checks are shared: however many reads wait, one runs per node at
 * a time, with at most one more queued.
 */
export async function freshRead<C>(
  steps: FreshReadSteps<C>,
  required: string,
  options: FreshnessOptions,
  stats: FreshnessStats,
): Promise<C> {
  stats.reads++;
  const deadline = steps.now() + options.waitMillis;
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
    const standbys = candidates.filter((h) => !steps.isPrimary(h));
    // Checks already running cost this read nothing: their answers, and any that came in meanwhile, first.
    for (const host of standbys) {
      const running = steps.replayCheckInFlight(host);
      if (running !== null) await running;
    }
    const learnt = standbys.find((h) => caughtUp(steps.knownReplay(h), required));
    if (learnt !== undefined) {
      stats.knownCaughtUp++;
      return steps.checkout(learnt);
    }
    for (const host of standbys) {
      if (caughtUp(await steps.replayCheck(host), required)) {
        stats.verified++;
        return steps.checkout(host);
      }
    }
    if (steps.now() >= deadline) break;
    await steps.sleep(5);
  }
  if (options.fallback === 'error') throw staleReadError(required, options.waitMillis);
  stats.onPrimary++;
  stats.fellBack++;
  return steps.checkoutPrimary();
}
