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
