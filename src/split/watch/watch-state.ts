import type { NodeStatus } from '../../roles/node-status.js';
import { decideRoles, decisionChanged, type DecisionInput, type RoleDecision } from '../../roles/role-decision.js';

/** `change`: the routing decision changed (writer, readers, stale or unconfirmed primaries). */
export interface ChangeEvent {
  readonly previous: RoleDecision;
  readonly current: RoleDecision;
}

/** `failover`: writes moved from one node to another (host indexes). */
export interface FailoverEvent {
  readonly from: number;
  readonly to: number;
}

/** `split-brain`: a read-write node on an older timeline was found and ruled out. */
export interface SplitBrainEvent {
  /** The node writes go to now, if one is known. */
  readonly writer: number | null;
  /** Every node ruled out as a stale primary. */
  readonly stale: readonly number[];
}

/**
 * `timeline-discarded`: the orchestrator went back to an older history.
 * Either every node that had reported the newest timeline now reports an
 * older one (it was rewound or rebuilt: evidence `servers`), or, with a
 * second authority, the node that was primary on it is a standby now, none is
 * a primary on it, and the authority has named a primary on an older
 * timeline its leader for as long as it trusts a silent leader (evidence
 * `orchestrator`: Patroni left the demoted node unrewound). Writes
 * acknowledged on the discarded timeline after it forked are gone: pg-split
 * forgets that timeline (so it can write to the cluster's primary again) and
 * says what was lost. Standbys still on it serve no reads until they are
 * rewound or rebuilt.
 */
export interface TimelineDiscardedEvent {
  /** The discarded timeline. */
  readonly timeline: number;
  /** The timeline the cluster went back to (the newest any reachable node reports now). */
  readonly now: number;
  /** The nodes that had reported the discarded timeline (host indexes). */
  readonly nodes: readonly number[];
  /** The first and last WAL positions pg-split saw on the discarded timeline: the lost writes lie between the fork and `lastSeenLsn`. */
  readonly firstSeenLsn: string | null;
  readonly lastSeenLsn: string | null;
  /** Statements pg-split's writer acknowledged while it wrote on the discarded timeline (counted between checks: at least this many may be lost). */
  readonly acknowledgedWrites: number;
  /** What showed it: the servers themselves, or the orchestrator (see above). */
  readonly evidence: 'servers' | 'orchestrator';
}

export type WatchEvent =
  | { readonly name: 'change'; readonly event: ChangeEvent }
  | { readonly name: 'failover'; readonly event: FailoverEvent }
  | { readonly name: 'split-brain'; readonly event: SplitBrainEvent }
  | { readonly name: 'timeline-discarded'; readonly event: TimelineDiscardedEvent };

/** What the watch knows of the newest timeline: who reported it, where it has seen it, and the writes acknowledged on it. */
interface TimelineMemory {
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
interface TimelineReport {
  readonly hostIndex: number;
  readonly timeline: number;
}

/** What the watch remembers between statuses. */
export interface WatchState {
  readonly decision: RoleDecision;
  /** The last node that was the writer (kept while no writer is known, so a failover names where writes came from). */
  readonly lastWriter: number | null;
  readonly newest: TimelineMemory;
  /** Nodes left on a timeline the orchestrator discarded: neither their timeline nor their reads count while they stay standbys on it. */
  readonly leftBehind: readonly TimelineReport[];
  /** The nodes seen as a primary on each recent timeline, kept across timelines so one fallen back to can be discarded in turn. */
  readonly primariesSeen: readonly TimelineReport[];
}

const NO_TIMELINE: TimelineMemory = Object.freeze({
  timeline: 0,
  reporters: [],
  primaryReporters: [],
  firstSeenLsn: null,
  lastSeenLsn: null,
  writesFrom: null,
  writesTo: null,
});

export const INITIAL_WATCH_STATE: WatchState = Object.freeze({
  decision: Object.freeze({ writer: null, readers: [], stalePrimaries: [], unconfirmed: [], newestTimeline: 0 }),
  lastWriter: null,
  newest: NO_TIMELINE,
  leftBehind: [],
  primariesSeen: [],
});

export interface WatchInput extends Omit<DecisionInput, 'newestTimeline'> {
  /** Statements the writer has acknowledged so far (a counter that only grows). */
  readonly acknowledgedWrites?: number;
  /** The second authority has named this node its leader, without a break, for as long as it trusts a silent leader. */
  readonly isSettledLeader?: (hostIndex: number) => boolean;
}

const LEFT_BEHIND_ERROR = 'on a timeline the orchestrator discarded';

/** The left-behind reports that still hold: the node is unreachable, or still a standby on that timeline or a newer one. */
function stillLeftBehind(left: readonly TimelineReport[], statuses: readonly NodeStatus[]): TimelineReport[] {
  return left.filter((l) => {
    const s = statuses.find((x) => x.hostIndex === l.hostIndex);
    if (s === undefined || !s.reachable) return true;
    return s.role === 'standby' && s.timeline !== null && s.timeline >= l.timeline;
  });
}

/** The statuses with left-behind nodes counted as unreachable: no timeline, no reads. */
function hideLeftBehind(statuses: readonly NodeStatus[], left: readonly TimelineReport[]): readonly NodeStatus[] {
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
function recordPrimaries(seen: readonly TimelineReport[], statuses: readonly NodeStatus[]): readonly TimelineReport[] {
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

interface Remembered {
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
function rememberTimeline(
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

/** Counts the writes acknowledged while the writer was on the remembered timeline. */
function countWrites(
  memory: TimelineMemory,
  decision: RoleDecision,
  statuses: readonly NodeStatus[],
  writes: number | undefined,
): TimelineMemory {
  if (writes === undefined || decision.writer === null) return memory;
  const writerTimeline = statuses.find((s) => s.hostIndex === decision.writer)?.timeline;
  if (writerTimeline !== memory.timeline) return memory;
  return { ...memory, writesFrom: memory.writesFrom ?? writes, writesTo: writes };
}

/**
 * The watch's stateful step, pure: from what it remembered and the latest
 * statuses, the new decision and the events it raises, in order:
 * `timeline-discarded` when the newest timeline was given up by every node
 * that had it, `change` when routing changed, `failover` when the writer moved
 * to another node (even across a period with none), `split-brain` when a node
 * is newly ruled out as a stale primary.
 */
export function advanceWatch(state: WatchState, input: WatchInput): { readonly state: WatchState; readonly events: readonly WatchEvent[] } {
  const { acknowledgedWrites, isSettledLeader, ...decisionInput } = input;
  const events: WatchEvent[] = [];
  const stillBehind = stillLeftBehind(state.leftBehind, input.statuses);
  const visible = hideLeftBehind(input.statuses, stillBehind);
  const primariesSeen = recordPrimaries(state.primariesSeen, visible);
  const remembered = rememberTimeline(state.newest, visible, primariesSeen, isSettledLeader);
  const leftBehind = [...stillBehind, ...remembered.leftBehind];
  const statuses = hideLeftBehind(input.statuses, leftBehind);
  if (remembered.discarded !== null) {
    const d = remembered.discarded;
    events.push({
      name: 'timeline-discarded',
      event: {
        timeline: d.timeline,
        now: remembered.memory.timeline,
        nodes: d.reporters,
        firstSeenLsn: d.firstSeenLsn,
        lastSeenLsn: d.lastSeenLsn,
        acknowledgedWrites: d.writesFrom === null || d.writesTo === null ? 0 : d.writesTo - d.writesFrom,
        evidence: remembered.evidence,
      },
    });
  }
  const previous = state.decision;
  const current = decideRoles({ ...decisionInput, statuses, newestTimeline: remembered.memory.timeline });
  const newest = countWrites(remembered.memory, current, statuses, acknowledgedWrites);
  const next: WatchState = { decision: current, lastWriter: current.writer ?? state.lastWriter, newest, leftBehind, primariesSeen };
  if (!decisionChanged(previous, current)) return { state: next, events };
  events.push({ name: 'change', event: { previous, current } });
  if (current.writer !== null && state.lastWriter !== null && current.writer !== state.lastWriter) {
    events.push({ name: 'failover', event: { from: state.lastWriter, to: current.writer } });
  }
  if (current.stalePrimaries.some((i) => !previous.stalePrimaries.includes(i))) {
    events.push({ name: 'split-brain', event: { writer: current.writer, stale: current.stalePrimaries } });
  }
  return { state: next, events };
}
