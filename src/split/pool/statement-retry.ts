/**
 * What a statement is, for deciding whether it may run again: a submittable
 * (a cursor, a stream) or text; one statement or several; whether its
 * failure certainly left nothing committed (by SQLSTATE) or lost the
 * connection. Pure.
 */
import type { NodeClient } from './node-client.js';
import { certainlyNotCommitted, failoverSignal, serializationFailure } from './sqlstate.js';

export function isSubmittable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { submit?: unknown }).submit === 'function';
}

export function lostConnection(client: NodeClient, err: unknown): boolean {
  const signal = failoverSignal(err);
  return client.pgSplitLost || signal === 'connection-lost' || signal === 'shutdown';
}

/** The statement text of `query()`'s arguments, when it has one. */
function statementText(first: unknown): string | null {
  if (typeof first === 'string') return first;
  const text = typeof first === 'object' && first !== null ? (first as { text?: unknown }).text : undefined;
  return typeof text === 'string' ? text : null;
}

/**
 * Whether a statement is one statement (no `;` before its end): a string of
 * several could have committed its first part (an explicit COMMIT) before it
 * was cut, so only a single statement is ever run again.
 */
function singleStatement(first: unknown): boolean {
  const text = statementText(first);
  return text !== null && !/;\s*\S/.test(text);
}

/**
 * Whether a failed writer statement may run again on the (new) primary: it
 * certainly did not commit (the server aborted or refused it by SQLSTATE, or
 * it was never sent: `neverSent`) and it is a single statement. A statement
 * whose connection was cut without an answer is never repeated.
 */
export function writeMayRetry(err: unknown, first: unknown, neverSent: boolean): boolean {
  return certainlyNotCommitted(err, neverSent) && singleStatement(first);
}

/**
 * Whether a failed read may run again because a standby cancelled it for a
 * conflict with recovery: SQLSTATE 40001 from a node that is not the writer
 * (a hot standby runs no SERIALIZABLE transaction, so there 40001 is only
 * that), on a single statement of `query()` (its own transaction, nothing of
 * it delivered: pg hands the rows over when it completes) and not a
 * submittable (a cursor or a stream may have delivered rows).
 */
export function recoveryConflictMayRetry(err: unknown, first: unknown, onStandby: boolean): boolean {
  return onStandby && !isSubmittable(first) && singleStatement(first) && serializationFailure(err);
}

/**
 * Whether pg-split's own statement on the writer (the write-position fetch,
 * read-only) may run again: whenever the failure may mean the cluster
 * changed (the connection lost, a shutdown, a node that is not the primary
 * any more), since repeating it changes nothing. On the new primary its
 * answer is at or past every write acknowledged before the failover that
 * the new primary kept.
 */
export function internalMayRetry(client: NodeClient, err: unknown): boolean {
  return client.pgSplitLost || failoverSignal(err) !== null;
}
