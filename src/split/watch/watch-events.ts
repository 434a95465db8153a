/**
 * The watch's events, typed: what advanceWatch decides to tell
 * (`WatchEvent`), and the event maps of ClusterWatch and HostMonitor, so a
 * listener of the wrong shape, or an event name that is not one, is a type
 * error rather than a silent no-op.
 */
import type { EventEmitter } from 'node:events';
import type { NodeStatus } from '../../roles/node-status.js';
import type { RoleDecision } from '../../roles/role-decision.js';

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

/** ClusterWatch's events. `status`: every status a monitor reports; `unresponsive`: a check or connect timed out (host index); `drained`: a member discovery removed has left (host index); `nudge`: see ClusterWatch.nudge(); `close`. */
export interface ClusterWatchEvents {
  change: [ChangeEvent];
  failover: [FailoverEvent];
  'split-brain': [SplitBrainEvent];
  'timeline-discarded': [TimelineDiscardedEvent];
  status: [NodeStatus];
  unresponsive: [hostIndex: number];
  drained: [hostIndex: number];
  nudge: [];
  close: [];
}

/** HostMonitor's events. `status`: each check's outcome; `unresponsive`: a check or connect timed out; `signal`: the server reported a role parameter (a promotion). */
export interface HostMonitorEvents {
  status: [NodeStatus];
  unresponsive: [hostIndex: number];
  signal: [parameterName: string];
}

/** Emits one of advanceWatch's events on `watch`, name and payload checked together. */
export function emitWatchEvent(watch: EventEmitter<ClusterWatchEvents>, e: WatchEvent): void {
  switch (e.name) {
    case 'change':
      watch.emit(e.name, e.event);
      break;
    case 'failover':
      watch.emit(e.name, e.event);
      break;
    case 'split-brain':
      watch.emit(e.name, e.event);
      break;
    case 'timeline-discarded':
      watch.emit(e.name, e.event);
      break;
  }
}
