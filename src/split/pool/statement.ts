/** What a statement through a routed pool's `query()` is, and the pure rules of its path (routed-pool.ts). */
import type pg from 'pg';
import type { PoolRole } from '../../roles/role-decision.js';
import type { RoutedPoolSettings } from './pool-settings.js';
import type { ReadRequirement } from './read-scope.js';

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
