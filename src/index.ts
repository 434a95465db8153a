/**
 * pg-split: one PostgreSQL connection string naming several hosts; reads go
 * to standbys and writes to the primary, through failovers. `connectSplit`
 * for the two pools, `connect` for one client on the host libpq would
 * choose, the connection-string reader, `probeCluster`, and the errors.
 *
 * @module pg-split
 */
export { ConnectError, ConnInfoError, OptionError, PgSplitError } from './errors.js';
export type { AttemptFailure, PgSplitErrorCode } from './errors.js';
export { parseConnInfo } from './conninfo/parse.js';
export type { ConnParams } from './conninfo/params.js';
export { ConnectionTarget, resolveConnInfo } from './conninfo/resolve.js';
export type { LoadBalanceHosts, ResolveContext, ResolvedHost, TargetSessionAttrs } from './conninfo/resolve.js';
export type { HostEntry, HostKind } from './conninfo/host-list.js';
export type { Env } from './conninfo/defaults.js';
export { connect, connectDetailed } from './connect/connect.js';
export type { ConnectOptions } from './connect/connect.js';
export type { Connected } from './connect/walk.js';
export type { Endpoint } from './connect/messages.js';
export type { StartupParams } from './connect/attempt.js';
export type { Lookup } from './connect/endpoints.js';
export type { RandomInt } from './connect/shuffle.js';
export type { PgpassWarning } from './conninfo/pgpass.js';
export type { EtcdOptions } from './etcd/etcd-options.js';
export type { ServerState } from './connect/server-state.js';
export { probeCluster } from './probe/probe.js';
export type { ProbeClusterOptions, ProbeReport } from './probe/probe.js';
export type { NodeRole, NodeStatus } from './roles/node-status.js';
export { connectSplit } from './split/connect-split.js';
export type { SplitCluster, SplitEvent, SplitEvents } from './split/connect-split.js';
export type { Topology, TopologyNode } from './split/topology.js';
export type { ChangeEvent, FailoverEvent, HostPort, SplitBrainEvent, TimelineDiscardedEvent } from './split/split-events.js';
export type { PatroniOptions } from './split/patroni/patroni-authority.js';
export type { PatroniReport } from './split/watch/leader-authority.js';
export type { RoleDecision } from './roles/role-decision.js';
export type { HostOptions, SplitOptions } from './split/options.js';
export type { PoolSettings } from './split/pool/pool-settings.js';
export type { DiscoveryOptions, MemberList } from './split/discovery/discovery.js';
export type { MemberEvent } from './split/discovery/member-changes.js';
export type { MemberOrigin } from './split/watch/members.js';
export type { PatroniMemberView, PatroniView } from './probe/patroni-members.js';
export type { Balance } from './split/pool/balancer.js';
export type { ReaderPolicy } from './roles/role-decision.js';
export type { FreshnessStats } from './telemetry/freshness-stats.js';
export type { QueryOptions, ReadRequirement } from './split/pool/read-scope.js';
