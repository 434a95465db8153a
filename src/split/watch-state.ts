import { decideRoles, decisionChanged, type DecisionInput, type RoleDecision } from './topology.js';

/** `change`: the routing decision changed (writer, readers or stale primaries). */
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

export type WatchEvent =
  | { readonly name: 'change'; readonly event: ChangeEvent }
  | { readonly name: 'failover'; readonly event: FailoverEvent }
  | { readonly name: 'split-brain'; readonly event: SplitBrainEvent };

/** What the watch remembers between statuses. */
export interface WatchState {
  readonly decision: RoleDecision;
  /** The last node that was the writer (kept while no writer is known, so a failover names where writes came from). */
  readonly lastWriter: number | null;
}

export const INITIAL_WATCH_STATE: WatchState = Object.freeze({
  decision: Object.freeze({ writer: null, readers: [], stalePrimaries: [], newestTimeline: 0 }),
  lastWriter: null,
});

/**
 * The watch's stateful step, pure: from what it remembered and the latest
 * statuses, the new decision and the events it raises, in order: `change`
 * when routing changed, `failover` when the writer moved to another node
 * (even across a period with none), `split-brain` when a node is newly
 * ruled out as a stale primary.
 */
export function advanceWatch(state: WatchState, input: Omit<DecisionInput, 'newestTimeline'>): { readonly state: WatchState; readonly events: readonly WatchEvent[] } {
  const previous = state.decision;
  const current = decideRoles({ ...input, newestTimeline: previous.newestTimeline });
  const lastWriter = current.writer ?? state.lastWriter;
  const next = { decision: current, lastWriter };
  if (!decisionChanged(previous, current)) return { state: next, events: [] };
  const events: WatchEvent[] = [{ name: 'change', event: { previous, current } }];
  if (current.writer !== null && state.lastWriter !== null && current.writer !== state.lastWriter) {
    events.push({ name: 'failover', event: { from: state.lastWriter, to: current.writer } });
  }
  if (current.stalePrimaries.some((i) => !previous.stalePrimaries.includes(i))) {
    events.push({ name: 'split-brain', event: { writer: current.writer, stale: current.stalePrimaries } });
  }
  return { state: next, events };
}
