import { withReplayLag } from './cluster-view.js';
import type { NodeStatus } from './node-status.js';

/** Which nodes the reader may use: the string's target_session_attrs, mapped (docs/routing.md). */
/** The two pools of a split cluster: writes go to the writer's node, reads to the reader's. */
export type PoolRole = 'writer' | 'reader';

export type ReaderPolicy = 'prefer-standby' | 'standby' | 'any' | 'primary';

export interface RoleDecision {
  /** The node writes go to: verified read-write, on the newest timeline. */
  readonly writer: number | null;
  /** The nodes reads are spread over, in host order. */
  readonly readers: readonly number[];
  /** Read-write nodes on an older timeline than the newest seen: a split brain. */
  readonly stalePrimaries: readonly number[];
  /** Read-write nodes on the newest timeline that the orchestrator (when one is named) does not confirm as its leader. */
  readonly unconfirmed: readonly number[];
  /** The newest timeline seen so far, on a primary or streamed by a standby; kept across decisions so a stale primary is never used again. */
  readonly newestTimeline: number;
}

export interface DecisionInput {
  readonly statuses: readonly NodeStatus[];
  readonly policy: ReaderPolicy;
  /** Newest timeline from earlier decisions (0 at start). */
  readonly newestTimeline: number;
  /** Standbys further behind than this are left out (issue: lag-aware reads); null: no limit. */
  readonly isTooFarBehind?: (status: NodeStatus) => boolean;
  /** A second authority (Patroni): whether it confirms this node as its leader now. Absent: no authority, every primary qualifies. */
  readonly isConfirmedLeader?: (hostIndex: number) => boolean;
  /** Standbys the reader leaves out (Patroni's `noloadbalance` tag). */
  readonly noReads?: (hostIndex: number) => boolean;
  /** Some of the hosts named at start are not checked yet: any of them may be a standby, or a primary on a newer timeline. */
  readonly firstChecksPending?: boolean;
}

function isWritable(s: NodeStatus): boolean {
  return s.reachable && s.role === 'primary' && s.readOnly === false;
}

/**
 * Whether a read-write primary on the newest timeline seen is the writer
 * beyond doubt while some hosts are still unchecked, so no newer primary can
 * hide among them: the second authority names it leader (it was asked and
 * confirmed it), or a standby that answered streams on its timeline (a
 * promotion elsewhere would have moved that standby to a newer timeline, or
 * cut it off). Without either (two hosts, no standby answering) the
 * unchecked hosts are waited for.
 */
function leadsOnEvidence(primary: NodeStatus, statuses: readonly NodeStatus[], authorityConfirms: boolean): boolean {
  if (authorityConfirms) return true;
  return statuses.some((s) => s.reachable && s.role === 'standby' && s.streaming === true && s.timeline === primary.timeline);
}

/**
 * Decides the writer and the readers from the latest statuses. Pure: the
 * monitor feeds it, the router reads its result.
 *
 * - writer: a reachable primary whose sessions are read-write (libpq's
 *   `read-write`), on the newest timeline ever seen; a primary on an older
 *   timeline is stale (an old primary restarted after a failover) and never used.
 *   Standbys count: one streaming a newer timeline proves a promotion happened,
 *   even before the promoted node itself has been seen.
 * - lag: each standby's replay lag is measured against that writer, and
 *   nowhere else (`withReplayLag`), so a limit never uses a ruled-out primary.
 * - with a second authority (`isConfirmedLeader`, Patroni), the writer must
 *   also be the node it confirms as leader; a read-write node it does not
 *   confirm is `unconfirmed`: no writes go there (a frozen leader whose
 *   Patroni stopped answering, a rogue primary Patroni no longer manages).
 * - at start (and at wake), while hosts named in the string have not answered
 *   nor failed their first check, a primary is the writer only on evidence
 *   (`leadsOnEvidence`): a stale primary (an old primary restarted read-write)
 *   that answers first must not get writes before its successor, on a newer
 *   timeline, has been heard; without evidence, every host is waited for.
 * - readers: healthy standbys (`prefer-standby`, `standby`), every healthy node
 *   (`any`), or the writer (`primary`); `prefer-standby` falls back to the
 *   writer when no standby is left, never while hosts named at start are still
 *   unchecked (reads wait for their first checks instead of going to the primary).
 */
export function decideRoles(input: DecisionInput): RoleDecision {
  const { statuses, policy } = input;
  const newestTimeline = Math.max(input.newestTimeline, ...statuses.filter((s) => s.reachable).map((s) => s.timeline ?? 0));
  const primaries = statuses.filter(isWritable);
  const current = primaries.filter((s) => (s.timeline ?? 0) >= newestTimeline);
  const confirmed = input.isConfirmedLeader ?? (() => true);
  const candidate = current.find((s) => confirmed(s.hostIndex));
  // While a host named at start is unchecked, the primary seen may be a stale one whose successor has not answered yet,
  // unless what did answer rules that out (leadsOnEvidence).
  const pending = input.firstChecksPending === true;
  const writer =
    candidate === undefined || (pending && !leadsOnEvidence(candidate, statuses, input.isConfirmedLeader !== undefined))
      ? null
      : candidate.hostIndex;
  const unconfirmed = current.filter((s) => !confirmed(s.hostIndex)).map((s) => s.hostIndex);
  const stalePrimaries = primaries.filter((s) => (s.timeline ?? 0) < newestTimeline).map((s) => s.hostIndex);
  const tooFar = input.isTooFarBehind ?? (() => false);
  const noReads = input.noReads ?? (() => false);
  const standbys = withReplayLag(statuses, writer)
    .filter((s) => s.reachable && s.role === 'standby' && !tooFar(s) && !noReads(s.hostIndex))
    .map((s) => s.hostIndex);
  const withWriter = writer === null ? [] : [writer];
  let readers: number[];
  switch (policy) {
    case 'standby':
      readers = standbys;
      break;
    case 'prefer-standby':
      readers = standbys.length > 0 || input.firstChecksPending === true ? standbys : withWriter;
      break;
    case 'any':
      readers = [...withWriter, ...standbys].sort((a, b) => a - b);
      break;
    case 'primary':
      readers = withWriter;
      break;
  }
  return { writer, readers, stalePrimaries, unconfirmed, newestTimeline };
}

/** Whether two decisions route differently (what the `change` event reports). */
export function decisionChanged(a: RoleDecision, b: RoleDecision): boolean {
  return (
    a.writer !== b.writer ||
    a.readers.join() !== b.readers.join() ||
    a.stalePrimaries.join() !== b.stalePrimaries.join() ||
    a.unconfirmed.join() !== b.unconfirmed.join()
  );
}
