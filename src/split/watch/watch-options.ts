/** How the watch checks the hosts and decides (connectSplit's options, resolved). */
import type { Lookup } from '../../connect/endpoints.js';
import type { NodeStatus } from '../../roles/node-status.js';
import type { ReaderPolicy } from '../../roles/role-decision.js';
import type { HostMonitorOptions } from './host-monitor.js';
import type { LeaderAuthority } from './leader-authority.js';
import type { WatchInput } from './watch-state.js';

export interface WatchOptions {
  /** The clock deadlines are read on (a checkout's, a wait for the writer's). @default Date.now */
  readonly now?: () => number;
  readonly recheckMillis: number;
  /** Re-check interval while no writer is known (a failover in progress). */
  readonly failoverRecheckMillis: number;
  readonly checkTimeoutMillis: number;
  readonly maxBackoffMillis: number;
  readonly lookup: Lookup;
  /** Wait at least this long before logging in again after a permanent refusal. @default 10 s, or 10 * maxBackoffMillis if longer */
  readonly refusalBackoffMillis?: number;
  readonly policy: ReaderPolicy;
  readonly isTooFarBehind?: (status: NodeStatus) => boolean;
  /** A second authority for the writer (Patroni, from its REST API or etcd), when the user names one. */
  readonly authority?: LeaderAuthority;
  /** The writer's acknowledged statements so far (for `timeline-discarded`). */
  readonly acknowledgedWrites?: () => number;
  /** Standbys the reader leaves out (Patroni's `noloadbalance` tag). */
  readonly noReads?: (hostIndex: number) => boolean;
  /** Monitoring sessions never keep the process alive (the pools' `allowExitOnIdle`). */
  readonly exitOnIdle?: boolean;
  /** An idle pooled connection to a host, for its checks (HostMonitorOptions.pooled). */
  readonly pooled?: HostMonitorOptions['pooled'];
  /** When each host last answered a statement of the pools (HostMonitorOptions.answers). */
  readonly answers?: HostMonitorOptions['answers'];
}

/** What one decision is made from: the hosts' statuses now, and the options that bear on it. */
export function watchInput(options: WatchOptions, statuses: NodeStatus[], firstChecksPending: boolean): WatchInput {
  const { isTooFarBehind, authority, acknowledgedWrites, noReads } = options;
  return {
    statuses,
    policy: options.policy,
    ...(isTooFarBehind === undefined ? {} : { isTooFarBehind }),
    ...(noReads === undefined ? {} : { noReads }),
    ...(authority === undefined
      ? {}
      : { isConfirmedLeader: (i: number) => authority.confirms(i), isSettledLeader: (i: number) => authority.confirmsSettled(i) }),
    ...(acknowledgedWrites === undefined ? {} : { acknowledgedWrites: acknowledgedWrites() }),
    firstChecksPending,
  };
}

/** What each host's monitor is given. */
export function monitorOptions(options: WatchOptions): HostMonitorOptions {
  return {
    checkTimeoutMillis: options.checkTimeoutMillis,
    maxBackoffMillis: options.maxBackoffMillis,
    lookup: options.lookup,
    refusalBackoffMillis: options.refusalBackoffMillis ?? Math.max(10_000, 10 * options.maxBackoffMillis),
    exitOnIdle: options.exitOnIdle ?? false,
    ...(options.pooled === undefined ? {} : { pooled: options.pooled }),
    ...(options.answers === undefined ? {} : { answers: options.answers }),
  };
}
