/**
 * Whether a host's answers to the application's busy pooled connections
 * stand for its check (checks on pooled connections, HostMonitor): the pure
 * rule, table-tested in test/unit/check-evidence.test.ts.
 */
export interface CheckEvidence {
  /** A timed check while a writer is known, or one a statement's end asked for; not one asked for a reason (a role reported, a failover signal, a stalled writer, the orchestrator). */
  readonly routine: boolean;
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
 * sends the check to the server (on a session of its own when no pooled
 * connection is idle).
 */
export function answersStandForCheck(e: CheckEvidence): boolean {
  return e.routine && !e.ownSession && e.reached && !e.suspected && e.lastAnswer !== null && e.now - e.lastAnswer <= e.checkTimeoutMillis;
}
