import type { TargetSessionAttrs } from '../conninfo/resolve.js';
import { lsnDistance } from '../lsn.js';
import { rejectionReason, type WalkPass } from '../connect/server-state.js';
import type { NodeStatus } from './node-status.js';

/**
 * Fills each standby's replay lag in bytes from the primary's WAL position.
 * The primary is the one `decideRoles` chose (one rule for routing and lag);
 * with none, lag stays unknown. A standby that has replayed everything the
 * primary has written is not behind, whatever its own delay query says (after
 * a restart its WAL receiver can start below what it replayed, which reads as
 * "behind since the start" on an idle cluster): its lag in seconds is 0.
 */
export function withReplayLag(statuses: readonly NodeStatus[], primaryIndex: number | null): NodeStatus[] {
  const primary = primaryIndex === null ? undefined : statuses.find((s) => s.hostIndex === primaryIndex);
  return statuses.map((s) => {
    if (s.role !== 'standby' || primary?.lsn == null || s.lsn === null) return s;
    const replayLagBytes = lsnDistance(primary.lsn, s.lsn);
    return replayLagBytes > 0 ? { ...s, replayLagBytes } : { ...s, replayLagBytes, replayLagSeconds: 0 };
  });
}

/**
 * The host libpq would choose given these statuses, walking hosts in order
 * (prefer-standby: twice). Null when none would be accepted.
 */
export function libpqChoice(statuses: readonly NodeStatus[], attrs: TargetSessionAttrs): number | null {
  const passes: WalkPass[] = attrs === 'prefer-standby' ? [1, 2] : [1];
  for (const pass of passes) {
    for (const s of statuses) {
      if (!s.reachable || s.role === null) continue;
      const state = { inHotStandby: s.role === 'standby', readOnly: s.readOnly === true };
      if (rejectionReason(attrs, state, pass) === null) return s.hostIndex;
    }
  }
  return null;
}
