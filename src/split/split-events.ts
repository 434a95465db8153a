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

/** `split-brain`: `host` and `port` are the writer's (null when none is known); `staleHosts` names each of `stale`. */
export interface SplitBrainEvent extends Watch.SplitBrainEvent {
  readonly host: string | null;
  readonly port: number | null;
  readonly staleHosts: readonly HostPort[];
}

/** `timeline-discarded`: `hosts` names each of `nodes`. */
export interface TimelineDiscardedEvent extends Watch.TimelineDiscardedEvent {
  readonly hosts: readonly HostPort[];
}

type HostOf = (hostIndex: number) => HostPort;

export function failoverEvent(event: Watch.FailoverEvent, hostOf: HostOf): FailoverEvent {
  return { ...event, ...hostOf(event.to), previous: hostOf(event.from) };
}

export function splitBrainEvent(event: Watch.SplitBrainEvent, hostOf: HostOf): SplitBrainEvent {
  const writer = event.writer === null ? { host: null, port: null } : hostOf(event.writer);
  return { ...event, ...writer, staleHosts: event.stale.map(hostOf) };
}

export function timelineDiscardedEvent(event: Watch.TimelineDiscardedEvent, hostOf: HostOf): TimelineDiscardedEvent {
  return { ...event, hosts: event.nodes.map(hostOf) };
}
