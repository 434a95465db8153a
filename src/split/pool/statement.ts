/**
 * What a statement through a routed pool's `query()` is, and the pure rules
 * of its path (routed-pool.ts, checkouts.ts): which node role it can go to,
 * whether it may run again after a failure (a submittable or text; one
 * statement or several; whether its failure certainly left nothing
 * committed, by SQLSTATE, or lost the connection), and whether a write is
 * acknowledged only once witnessed.
 */
import type pg from 'pg';
import type { PoolRole } from '../../roles/role-decision.js';
import type { NodeClient } from './node-client.js';
import type { RoutedPoolSettings } from './pool-settings.js';
import type { ReadRequirement } from './read-scope.js';
import type { NodeChoice, WitnessPort } from './router.js';
import { certainlyNotCommitted, failoverSignal, serializationFailure } from './sqlstate.js';

export type StatementKind = 'write' | 'read' | 'internal';

/** One statement sent through `query()`: what it is, and how it settles. */
export interface Statement {
  readonly first: unknown;
  readonly values: unknown;
  readonly requirement: ReadRequirement;
  readonly kind: StatementKind;
  readonly resolve: (result: pg.QueryResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Attempts per statement: each runs again at most once. */
export const MAX_ATTEMPTS: Readonly<Record<StatementKind, number>> = { write: 2, read: 2, internal: 2 };

/**
 * Which node role a checkout of `pool` with this requirement goes to: the
 * writer's node for the writer, and for a read of the primary; a reader's
 * for an eventually consistent read; null for a read that must see a write
 * (Checkouts finds a standby that has replayed far enough).
 */
export function nodeRoleFor(pool: PoolRole, requirement: ReadRequirement, consistency: RoutedPoolSettings['consistency']): PoolRole | null {
  if (pool === 'writer' || requirement.primary === true) return 'writer';
  return requirement.after === undefined && consistency === 'eventual' ? 'reader' : null;
}

/** The node role a statement can go to as soon as one of its nodes is eligible, or null when only Checkouts can choose (nodeRoleFor; an internal statement, the write-token fetch, always goes through Checkouts). */
export function nodeRoleNow(pool: PoolRole, s: Statement, consistency: RoutedPoolSettings['consistency']): PoolRole | null {
  return s.kind === 'internal' ? null : nodeRoleFor(pool, s.requirement, consistency);
}

/** Whether `query()` was given a submittable (a cursor, a stream): pg-pool's own path, never run again. */
export function isSubmittable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { submit?: unknown }).submit === 'function';
}

/** Whether a statement failed because its connection went (lost, or ended by a shutdown). */
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

/**
 * Whether a write that committed on `host` is acknowledged only once
 * witnessed (every other member received it): sent to a leader whose
 * Patroni went silent, while Patroni has not confirmed it again; sent to the
 * writer, when the node went silent meanwhile (Router.mustWitness).
 */
export function witnessNeeded(
  router: Pick<NodeChoice, 'isWriter'> & Pick<WitnessPort, 'mustWitness'>,
  host: number,
  sentToSilentLeader: boolean,
): boolean {
  return sentToSilentLeader ? !router.isWriter(host) : router.mustWitness(host);
}
