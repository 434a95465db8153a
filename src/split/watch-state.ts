import type { NodeStatus } from '../probe/node-status.js';
import { decideRoles, decisionChanged, type DecisionInput, type RoleDecision } from './topology.js';

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
 * `timeline-discarded`: every node that had reported the newest timeline now
 * reports an older one (it was rewound or rebuilt: the orchestrator went back
 * to an older history). Writes acknowledged on the discarded timeline after it
 * forked are gone: pg-split forgets that timeline (so it can write to the
 * cluster's primary again) and says what was lost.
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
}

export type WatchEvent =
  | { readonly name: 'change'; readonly event: ChangeEvent }
  | { readonly name: 'failover'; readonly event: FailoverEvent }
  | { readonly name: 'split-brain'; readonly event: SplitBrainEvent }
  | { readonly name: 'timeline-discarded'; readonly event: TimelineDiscardedEvent };

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

/** What the watch remembers between statuses. */
export interface WatchState {
  readonly decision: RoleDecision;
  /** The last node that was the writer (kept while no writer is known, so a failover names where writes came from). */
  readonly lastWriter: number | null;
  readonly newest: TimelineMemory;
}

const NO_TIMELINE: TimelineMemory = Object.freeze({ timeline: 0, reporters: [], primaryReporters: [], firstSeenLsn: null, lastSeenLsn: null, writesFrom: null, writesTo: null });

export const INITIAL_WATCH_STATE: WatchState = Object.freeze({
  decision: Object.freeze({ writer: null, readers: [], stalePrimaries: [], unconfirmed: [], newestTimeline: 0 }),
  lastWriter: null,
  newest: NO_TIMELINE,
});

export interface WatchInput extends Omit<DecisionInput, 'newestTimeline'> {
  /** Statements the writer has acknowledged so far (a counter that only grows). */
  readonly acknowledgedWrites?: number;
}

function memoryOf(statuses: readonly NodeStatus[], timeline: number): TimelineMemory {
  const on = statuses.filter((s) => s.reachable && s.timeline === timeline);
  const lsn = on.find((s) => s.role === 'primary')?.lsn ?? null;
  const primaries = on.filter((s) => s.role === 'primary').map((s) => s.hostIndex);
  return { timeline, reporters: on.map((s) => s.hostIndex), primaryReporters: primaries, firstSeenLsn: lsn, lastSeenLsn: lsn, writesFrom: null, writesTo: null };
}

/**
 * The newest timeline after these statuses: raised by any reachable node on
 * a newer one; forgotten only on evidence that it was discarded, i.e. it was
 * seen on a primary, and every node that reported it is reachable and
 * reports an older one now (never because a node is merely unreachable, and
 * never on a standby's word alone: a restarting standby may report the
 * timeline of its last restartpoint).
 */
function rememberTimeline(memory: TimelineMemory, statuses: readonly NodeStatus[]): { memory: TimelineMemory; discarded: TimelineMemory | null } {
  const reported = Math.max(0, ...statuses.filter((s) => s.reachable).map((s) => s.timeline ?? 0));
  if (reported > memory.timeline) return { memory: memoryOf(statuses, reported), discarded: null };
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
    ...memory, reporters: [...reporters], primaryReporters: [...primaryReporters],
    firstSeenLsn: memory.firstSeenLsn ?? primaryLsn, lastSeenLsn: primaryLsn ?? memory.lastSeenLsn,
  };
  const wentBack = updated.primaryReporters.length > 0 && updated.reporters.every((i) => {
    const s = byHost.get(i);
    return s !== undefined && s.reachable && s.timeline !== null && s.timeline < memory.timeline;
  });
  if (!wentBack || reported === 0) return { memory: updated, discarded: null };
  return { memory: memoryOf(statuses, reported), discarded: updated };
}

/** Counts the writes acknowledged while the writer was on the remembered timeline. */
function countWrites(memory: TimelineMemory, decision: RoleDecision, statuses: readonly NodeStatus[], writes: number | undefined): TimelineMemory {
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
  const { acknowledgedWrites, ...decisionInput } = input;
  const events: WatchEvent[] = [];
  const remembered = rememberTimeline(state.newest, input.statuses);
  if (remembered.discarded !== null) {
    const d = remembered.discarded;
    events.push({
      name: 'timeline-discarded',
      event: {
        timeline: d.timeline, now: remembered.memory.timeline, nodes: d.reporters, firstSeenLsn: d.firstSeenLsn, lastSeenLsn: d.lastSeenLsn,
        acknowledgedWrites: d.writesFrom === null || d.writesTo === null ? 0 : d.writesTo - d.writesFrom,
      },
    });
  }
  const previous = state.decision;
  const current = decideRoles({ ...decisionInput, newestTimeline: remembered.memory.timeline });
  const newest = countWrites(remembered.memory, current, input.statuses, acknowledgedWrites);
  const next: WatchState = { decision: current, lastWriter: current.writer ?? state.lastWriter, newest };
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
