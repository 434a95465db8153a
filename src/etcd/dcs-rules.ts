/**
 * The decisions of reading Patroni from etcd (patroni-dcs.ts), pure: until
 * when a leader gets writes by its lease, when the lease is checked next,
 * the backoff after failures, and what the end of a read or a watch means.
 */

/** Room left between pg-split's last write to a leader whose lease is running out and the lease's expiry. */
export const LEASE_MARGIN_MILLIS = 1000;
/** Without a leader (or its lease unknown), the leader key is read this often: a watch that fell behind must not hide the next leader. */
export const LEADERLESS_CHECK_MILLIS = 1000;
export const MAX_BACKOFF_MILLIS = 2000;

/**
 * Until when the leader gets writes (ms epoch): the lease's expiry, counted
 * from when the check was sent (etcd rounds the time left down), less the
 * margin; null when the key has no lease or it ran out (`leftSeconds` <= 0).
 */
export function leaseCutoff(sentAt: number, leftSeconds: number): number | null {
  return leftSeconds > 0 ? sentAt + leftSeconds * 1000 - LEASE_MARGIN_MILLIS : null;
}

/**
 * When to check the lease next: early enough before the cut-off for two
 * requests to time out and one more to answer, and never sooner than a
 * second from now; each second while no cut-off is known.
 */
export function nextLeaseCheckAt(now: number, cutoff: number | null, requestTimeoutMillis: number): number {
  const lead = 2 * requestTimeoutMillis + 500;
  return cutoff === null ? now + LEADERLESS_CHECK_MILLIS : Math.max(cutoff - lead, now + LEADERLESS_CHECK_MILLIS);
}

/** The pause after `failures` failed attempts in a row: 100 ms doubling, at most MAX_BACKOFF_MILLIS; none before the first failure. */
export function backoffMillis(failures: number): number {
  return failures > 0 ? Math.min(MAX_BACKOFF_MILLIS, 100 * 2 ** (failures - 1)) : 0;
}

/** Why pg-split itself ended a watch (the abort reason), or null: etcd or the connection ended it. */
export type WatchAbort = 'compacted' | 'behind' | 'cancelled' | 'endpoint-failed' | null;

/** The abort reason of a watch's signal, when it is one of ours. */
export function watchAbort(signal: AbortSignal): WatchAbort {
  const reason: unknown = signal.aborted ? signal.reason : null;
  return reason === 'compacted' || reason === 'behind' || reason === 'cancelled' || reason === 'endpoint-failed' ? reason : null;
}

/**
 * A read or watch that ended in error: whether it counts as a failure (the
 * backoff, and the first read's give-up) and whether its error is recorded.
 * Compacted or found behind: neither, read again at once. Cancelled by etcd
 * (an expired token) or the lease check failed on this endpoint: a failure,
 * nothing to record. Anything else: both.
 */
export function errorRule(abort: WatchAbort): { readonly failure: boolean; readonly record: boolean } {
  if (abort === 'compacted' || abort === 'behind') return { failure: false, record: false };
  if (abort === 'cancelled' || abort === 'endpoint-failed') return { failure: true, record: false };
  return { failure: true, record: true };
}

/**
 * Whether the next session reads everything again rather than resuming the
 * watch after the last revision seen: when nothing was read yet, when the
 * lease check found the watch behind, or when etcd cancelled the watch
 * (compacted past the revision, an expired token).
 */
export function needsFullRead(abort: WatchAbort, readYet: boolean, behind: boolean): boolean {
  return !readYet || behind || abort === 'compacted' || abort === 'cancelled';
}
