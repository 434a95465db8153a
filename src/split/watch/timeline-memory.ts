/**
 * What the watch remembers of timelines, pure: the newest timeline and who
 * reported it (as a primary or a standby), the nodes seen as a primary on
 * each recent timeline, and when the newest one counts as discarded (the
 * servers' evidence, or the orchestrator's), leaving behind the nodes still
 * on it. `advanceWatch` (watch-state.ts) carries it from one set of statuses
 * to the next.
 */
import type { NodeStatus } from '../../roles/node-status.js';

/** What the watch knows of the newest timeline: who reported it, where it has seen it, and the writes acknowledged on it. */
export interface TimelineMemory {
  readonly timeline: number;
  readonly reporters: readonly number[];
  /** The nodes seen as a primary on it (a standby's word alone never discards a timeline). */
  readonly primaryReporters: readonly number[];
  readonly firstSeenLsn: string | null;
  readonly lastSeenLsn: string | null;
  /** The writer's acknowledged-write count when it was first seen writing on this timeline, and at the last check. */
  readonly writesFrom: number | null;
  readonly writesTo: number | null;
}

/** A node's report of a timeline. */
export interface TimelineReport {
  readonly hostIndex: number;
  readonly timeline: number;
}

export const NO_TIMELINE: TimelineMemory = Object.freeze({
  timeline: 0,
  reporters: [],
  primaryReporters: [],
  firstSeenLsn: null,
  lastSeenLsn: null,
  writesFrom: null,
  writesTo: null,
});

const LEFT_BEHIND_ERROR = 'on a timeline the orchestrator discarded';

/** The left-behind reports that still hold: the node is unreachable, or still a standby on that timeline or a newer one. */
export function stillLeftBehind(left: readonly TimelineReport[], statuses: readonly NodeStatus[]): TimelineReport[] {
  return left.filter((l) => {
    const s = statuses.find((x) => x.hostIndex === l.hostIndex);
    if (s === undefined || !s.reachable) return true;
    return s.role === 'standby' && s.timeline !== null && s.timeline >= l.timeline;
  });
}

/** The statuses with left-behind nodes counted as unreachable: no timeline, no reads. */
export function hideLeftBehind(statuses: readonly NodeStatus[], left: readonly TimelineReport[]): readonly NodeStatus[] {
  if (left.length === 0) return statuses;
  return statuses.map((s) =>
    s.reachable && left.some((l) => l.hostIndex === s.hostIndex) ? { ...s, reachable: false, error: LEFT_BEHIND_ERROR } : s,
  );
}

/**
 * The orchestrator's evidence that the remembered timeline was discarded:
 * every node seen as a primary on it is reachable and a standby now, none is
 * a primary on it or a newer one, and the authority has long named a
 * primary on an older timeline its leader. Returns that leader.
 */
function leaderOnOlderTimeline(
  memory: TimelineMemory,
  statuses: readonly NodeStatus[],
  isSettledLeader: ((hostIndex: number) => boolean) | undefined,
): NodeStatus | null {
  if (isSettledLeader === undefined || memory.primaryReporters.length === 0) return null;
  const demoted = memory.primaryReporters.every((i) => statuses.some((s) => s.hostIndex === i && s.reachable && s.role === 'standby'));
  if (!demoted || statuses.some((s) => s.reachable && s.role === 'primary' && (s.timeline ?? 0) >= memory.timeline)) return null;
  return (
    statuses.find(
      (s) =>
        s.reachable && s.role === 'primary' && s.readOnly === false && (s.timeline ?? 0) < memory.timeline && isSettledLeader(s.hostIndex),
    ) ?? null
  );
}

/** How many (node, timeline) pairs seen as a primary the watch keeps: the newest timelines' (a few failovers back). */
const PRIMARIES_SEEN_KEPT = 32;

/** The pairs seen before plus the reachable primaries in these statuses, newest timelines first, bounded. */
export function recordPrimaries(seen: readonly TimelineReport[], statuses: readonly NodeStatus[]): readonly TimelineReport[] {
  const fresh = statuses
    .filter((s) => s.reachable && s.role === 'primary' && s.timeline !== null)
    .map((s) => ({ hostIndex: s.hostIndex, timeline: s.timeline ?? 0 }))
    .filter((r) => !seen.some((x) => x.hostIndex === r.hostIndex && x.timeline === r.timeline));
  if (fresh.length === 0) return seen;
  return [...seen, ...fresh].sort((a, b) => b.timeline - a.timeline).slice(0, PRIMARIES_SEEN_KEPT);
}

/**
 * What the watch knows of `timeline` from these statuses and from the nodes
 * seen as a primary on it before (a timeline fallen back to after a discard
 * was often seen on a primary that has since left it).
 */
function memoryOf(statuses: readonly NodeStatus[], timeline: number, seen: readonly TimelineReport[]): TimelineMemory {
  const on = statuses.filter((s) => s.reachable && s.timeline === timeline);
  const lsn = on.find((s) => s.role === 'primary')?.lsn ?? null;
  const seenOn = seen.filter((r) => r.timeline === timeline).map((r) => r.hostIndex);
  const primaries = [...new Set([...on.filter((s) => s.role === 'primary').map((s) => s.hostIndex), ...seenOn])];
  return {
    timeline,
    reporters: [...new Set([...on.map((s) => s.hostIndex), ...seenOn])],
    primaryReporters: primaries,
    firstSeenLsn: lsn,
    lastSeenLsn: lsn,
    writesFrom: null,
    writesTo: null,
  };
}

export interface Remembered {
  readonly memory: TimelineMemory;
  readonly discarded: TimelineMemory | null;
  readonly evidence: 'servers' | 'orchestrator';
  /** Nodes newly left behind on the discarded timeline (orchestrator evidence). */
  readonly leftBehind: readonly TimelineReport[];
}

const newestReported = (statuses: readonly NodeStatus[]): number =>
  Math.max(0, ...statuses.filter((s) => s.reachable).map((s) => s.timeline ?? 0));

/**
 * The newest timeline after these statuses: raised by any reachable node on
 * a newer one; forgotten only on evidence that it was discarded: it was
 * seen on a primary, and every node that reported it is reachable and
 * reports an older one now (never because a node is merely unreachable, and
 * never on a standby's word alone: a restarting standby may report the
 * timeline of its last restartpoint), or the orchestrator says so
 * (`leaderOnOlderTimeline`).
 */
export function rememberTimeline(
  memory: TimelineMemory,
  statuses: readonly NodeStatus[],
  seen: readonly TimelineReport[],
  isSettledLeader?: (hostIndex: number) => boolean,
): Remembered {
  const kept = (m: TimelineMemory): Remembered => ({ memory: m, discarded: null, evidence: 'servers', leftBehind: [] });
  const reported = newestReported(statuses);
  if (reported > memory.timeline) return kept(memoryOf(statuses, reported, seen));
  const byHost = new Map(statuses.map((s) => [s.hostIndex, s]));
  const reporters = new Set(memory.reporters);
  const primaryReporters = new Set(memory.primaryReporters);
  for (const s of statuses) {
    if (!s.reachable || s.timeline !== memory.timeline) continue;
    reporters.add(s.hostIndex);
    if (s.role === 'primary') primaryReporters.add(s.hostIndex);
  }
  const primaryLsn = statuses.find((s) => s.reachable && s.role === 'primary' && s.timeline === memory.timeline)?.lsn ?? null;
  const updated = {
    ...memory,
    reporters: [...reporters],
    primaryReporters: [...primaryReporters],
    firstSeenLsn: memory.firstSeenLsn ?? primaryLsn,
    lastSeenLsn: primaryLsn ?? memory.lastSeenLsn,
  };
  const wentBack =
    updated.primaryReporters.length > 0 &&
    updated.reporters.every((i) => {
      const s = byHost.get(i);
      return s !== undefined && s.reachable && s.timeline !== null && s.timeline < memory.timeline;
    });
  if (wentBack && reported > 0)
    return { memory: memoryOf(statuses, reported, seen), discarded: updated, evidence: 'servers', leftBehind: [] };
  if (leaderOnOlderTimeline(updated, statuses, isSettledLeader) === null) return kept(updated);
  // Every node that had the timeline and has not visibly left it stays behind on it, reachable now or not.
  const leftBehind = updated.reporters
    .filter((i) => {
      const s = byHost.get(i);
      return !(s !== undefined && s.reachable && s.timeline !== null && s.timeline < memory.timeline);
    })
    .map((hostIndex) => ({ hostIndex, timeline: memory.timeline }));
  const visible = hideLeftBehind(statuses, leftBehind);
  return { memory: memoryOf(visible, newestReported(visible), seen), discarded: updated, evidence: 'orchestrator', leftBehind };
}
