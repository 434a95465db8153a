/** What reads that must see a write cost, counted by the reader and shown by topology() and the metrics. */
export interface FreshnessStats {
  /** Reads that had to see a write position. */
  reads: number;
  /** ... served by a standby known to be past it (from its last status check, or from another read's replay check, finished or in flight): no round trip of its own. */
  knownCaughtUp: number;
  /** ... served by a standby after a replay check newer than the read said it was past (a check shared with other reads). */
  verified: number;
  /** ... served by the primary (it was a reader anyway, or the wait ran out). */
  onPrimary: number;
  /** ... that fell back to the primary because no standby caught up in time. */
  fellBack: number;
  /** Round trips spent: write-position fetches on the primary (shared by concurrent reads). */
  tokenFetches: number;
  /** Round trips spent: replay checks on standbys (each shared by the reads waiting for it). */
  replayChecks: number;
}

export function emptyFreshnessStats(): FreshnessStats {
  return { reads: 0, knownCaughtUp: 0, verified: 0, onPrimary: 0, fellBack: 0, tokenFetches: 0, replayChecks: 0 };
}
