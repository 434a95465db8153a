/**
 * The events connectSplit() emits, as an application logs them: the watch's
 * decisions (host indexes) with each host's name and port added, so a log
 * line says which server without a call to topology().
 */
import type * as Watch from './watch/watch-events.js';

export type { ChangeEvent } from './watch/watch-events.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `failover`: writes moved from host `from` to host `to`; `host` and `port` are the new writer's, `previous` the old one's. */
export interface FailoverEvent extends Watch.FailoverEvent, HostPort {
  readonly previous: HostPort;
}

/**
 * `split-brain`: `host` and `port` are the writer's (null when none is known);
 * `staleHosts` names each of `stale`. By the time it is emitted every pooled
 * connection to a stale node has been cut and nothing is routed there again,
 * so pg-split acknowledges no write on it.
 */
export interface SplitBrainEvent extends Watch.SplitBrainEvent {
  readonly host: string | null;
  readonly port: number | null;
  readonly staleHosts: readonly HostPort[];
  /**
   * Who ends the split: `'patroni'` with the `patroni` option, when Patroni
   * holds none of the stale nodes as its leader, so each one's own Patroni
   * demotes it (a former leader that comes back read-write after a freeze
   * or a partition: the expected end of a Patroni failover); null when
   * nothing pg-split knows of will: the stale node stays read-write until
   * someone stops, rewinds or rebuilds it. Alert on `orchestrator === null`.
   */
  readonly orchestrator: 'patroni' | null;
}

/** `timeline-discarded`: `hosts` names each of `nodes`. */
export interface TimelineDiscardedEvent extends Watch.TimelineDiscardedEvent {
  readonly hosts: readonly HostPort[];
}

type HostOf = (hostIndex: number) => HostPort;

export function failoverEvent(event: Watch.FailoverEvent, hostOf: HostOf): FailoverEvent {
  return { ...event, ...hostOf(event.to), previous: hostOf(event.from) };
}

/** `confirmsLeader`: whether the orchestrator (Patroni) holds a host as its leader now; null without one. */
export function splitBrainEvent(
  event: Watch.SplitBrainEvent,
  hostOf: HostOf,
  confirmsLeader: ((hostIndex: number) => boolean) | null,
): SplitBrainEvent {
  const writer = event.writer === null ? { host: null, port: null } : hostOf(event.writer);
  const orchestrated = confirmsLeader !== null && event.stale.every((i) => !confirmsLeader(i));
  return { ...event, ...writer, staleHosts: event.stale.map(hostOf), orchestrator: orchestrated ? 'patroni' : null };
}

export function timelineDiscardedEvent(event: Watch.TimelineDiscardedEvent, hostOf: HostOf): TimelineDiscardedEvent {
  return { ...event, hosts: event.nodes.map(hostOf) };
}
