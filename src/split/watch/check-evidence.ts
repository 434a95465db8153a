/**
 * Whether a host's answers to the application's busy pooled connections
 * stand for its check, and whether a session that could not be opened makes
 * it down (checks on pooled connections, HostMonitor): the pure rules,
 * table-tested in test/unit/check-evidence.test.ts.
 */
/**
 * Why a host is checked: `routine`, a timed check while a writer is known;
 * `asked`, for a reason (a role a connection reported, a failover signal
 * elsewhere, the orchestrator's word, a timed check while no writer is
 * known); `urgent`, the writer stalls (its statements go unanswered): no
 * wait for anything but the server.
 */
export type CheckKind = 'routine' | 'asked' | 'urgent';

/** The stronger of two reasons (a check asked twice before it starts answers both). */
export function strongerCheck(a: CheckKind, b: CheckKind): CheckKind {
  const rank = { routine: 0, asked: 1, urgent: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}

export interface CheckEvidence {
  readonly kind: CheckKind;
  /** The monitor holds a session of its own on the host (then the check runs there). */
  readonly ownSession: boolean;
  /** The host is known to be up (a way in kept from its last session or pooled check). */
  readonly reached: boolean;
  /** A pooled connection saw a failover signal since the last status. */
  readonly suspected: boolean;
  /** When the server last answered a statement of the pools on the host (null: never), and now, on one clock. */
  readonly lastAnswer: number | null;
  readonly now: number;
  readonly checkTimeoutMillis: number;
}

/**
 * True when no check needs to ask the server now: a routine check of a host
 * reached before, with no failover signal since, which answered a statement
 * within a check's timeout (what a check that succeeded would show). False
 * sends the check to the server (answersWillCarryCheck says how).
 */
export function answersStandForCheck(e: CheckEvidence): boolean {
  return e.kind === 'routine' && busyAndAnswering(e);
}

/** A host reached before, checked on no session of its own, with no failover signal since, that answered within a check's timeout. */
function busyAndAnswering(e: CheckEvidence): boolean {
  return !e.ownSession && e.reached && !e.suspected && e.lastAnswer !== null && e.now - e.lastAnswer <= e.checkTimeoutMillis;
}

/**
 * True when a check asked for a reason, of a host whose every pooled
 * connection is busy, should run on the first one a statement gives back
 * (waiting up to a check's timeout) instead of opening a session: the host
 * answered one within a check's timeout, and no failover signal says its
 * connections are failing. A full server would refuse the session (53300)
 * and a leader whose postmaster is frozen could not open one, which must not
 * take them for down. Never for an urgent check (a stalled writer).
 */
export function answersWillCarryCheck(e: CheckEvidence): boolean {
  return e.kind === 'asked' && busyAndAnswering(e);
}

/** What a monitoring session that could not be opened says of its host. */
export interface FailedSessionEvidence {
  /** The attempt ran out of time (not refused, not reset). */
  readonly timedOut: boolean;
  /** A pooled connection to the host saw a failover signal (a shutdown, a lost connection) since its last status. */
  readonly suspected: boolean;
  /** When the attempt began, and when the server last answered a statement of the pools (null: never), on one clock. */
  readonly attemptStartedAt: number;
  readonly lastAnswer: number | null;
}

/**
 * True when a monitoring session that could not be opened within a check's
 * timeout does not make the host down: its server answered a statement of
 * the pools after the attempt began, and no pooled connection saw a failover
 * signal since its last status, as with a leader whose postmaster is frozen
 * while its backends serve. Its checks then run on a connection a statement
 * gives back. A host that answered nothing meanwhile (frozen as a whole, cut
 * off), or whose connections saw it shut down or go, is down, as without
 * pooled connections.
 */
export function answersOutliveSession(e: FailedSessionEvidence): boolean {
  return e.timedOut && !e.suspected && e.lastAnswer !== null && e.lastAnswer >= e.attemptStartedAt;
}
