import type { NodeStatus } from '../../roles/node-status.js';
import { decideRoles, decisionChanged, type DecisionInput, type RoleDecision } from '../../roles/role-decision.js';
import {
  hideLeftBehind,
  NO_TIMELINE,
  recordPrimaries,
  rememberTimeline,
  stillLeftBehind,
  type TimelineMemory,
  type TimelineReport,
} from './timeline-memory.js';
import type { WatchEvent } from './watch-events.js';

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
