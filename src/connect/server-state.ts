import type { TargetSessionAttrs } from '../conninfo/resolve.js';

/** What a server told us about itself at startup (or answered to libpq's fallback queries). */
export interface ServerState {
  /** `in_hot_standby` (PG14+) or `pg_is_in_recovery()`. */
  readonly inHotStandby: boolean;
  /** `default_transaction_read_only` (PG14+) or `SHOW transaction_read_only`. */
  readonly readOnly: boolean;
}

/** The parameters a PG14+ server reports again (ParameterStatus) when its role changes mid-session: a promotion, or `ALTER SYSTEM` of the read-only default. */
const ROLE_PARAMETERS: ReadonlySet<string> = new Set(['in_hot_standby', 'default_transaction_read_only']);

/** Whether a ParameterStatus the server sent says its role may have changed (ROLE_PARAMETERS). */
export function isRoleParameter(name: string): boolean {
  return ROLE_PARAMETERS.has(name);
}

/** Which pass of the host walk: prefer-standby walks the list twice. */
export type WalkPass = 1 | 2;

/**
 * libpq's target_session_attrs check: null when the server is acceptable,
 * else the rejection text libpq appends (`session is read-only`, ...).
 */
export function rejectionReason(attrs: TargetSessionAttrs, state: ServerState, pass: WalkPass = 1): string | null {
  const readOnly = state.readOnly || state.inHotStandby;
  switch (attrs) {
    case 'any':
      return null;
    case 'read-write':
      return readOnly ? 'session is read-only' : null;
    case 'read-only':
      return readOnly ? null : 'session is not read-only';
    case 'primary':
      return state.inHotStandby ? 'server is in hot standby mode' : null;
    case 'standby':
      return state.inHotStandby ? null : 'server is not in hot standby mode';
    case 'prefer-standby':
      return pass === 2 || state.inHotStandby ? null : 'server is not in hot standby mode';
  }
}

/** Which facts the check needs; libpq asks only for what is missing. */
export function needsReadOnly(attrs: TargetSessionAttrs): boolean {
  return attrs === 'read-write' || attrs === 'read-only';
}

export function needsHotStandby(attrs: TargetSessionAttrs, pass: WalkPass): boolean {
  return attrs === 'primary' || attrs === 'standby' || (attrs === 'prefer-standby' && pass === 1);
}
