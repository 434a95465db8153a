/**
 * What `topology()` shows of the cluster (every node's status and role, the
 * freshness counters, whether it sleeps), and how the nodes are described
 * in errors that say why no node was eligible.
 */
import type { NodeStatus } from '../roles/node-status.js';
import type { FreshnessStats } from '../telemetry/freshness-stats.js';
import type { ConnectionRegistry } from './pool/connection-registry.js';
import type { ClusterWatch } from './watch/cluster-watch.js';
import type { LeaderAuthority, PatroniReport } from './watch/leader-authority.js';
import type { MemberOrigin, Members } from './watch/members.js';

/** One node as `topology()` shows it. */
export interface TopologyNode extends NodeStatus {
  /** The writer sends writes here. */
  readonly writer: boolean;
  /** The reader spreads reads over this node. */
  readonly reader: boolean;
  /** A read-write node on an older timeline than the newest seen: never used. */
  readonly stale: boolean;
  /** A standby left out of the reader's rotation for being further behind than maxReplicaLag. */
  readonly lagging: boolean;
  /** Open pooled connections on this node (reader and writer pools). */
  readonly openConnections: number;
  /** A read-write node the orchestrator (option `patroni`) does not confirm as its leader: no writes go there. */
  readonly unconfirmed: boolean;
  /** What Patroni's REST API last said of this node (option `patroni`), else null. */
  readonly patroni: PatroniReport | null;
  /** Where this member came from: the connection string or a discovery source. */
  readonly origin: MemberOrigin;
  /** Patroni's `noloadbalance` tag (discovery `patroni`): the reader leaves this node out. */
  readonly noLoadBalance: boolean;
  /** Patroni's `nofailover` tag (discovery `patroni`). */
  readonly noFailover: boolean;
  /** Its zone (option `hosts`, Patroni's `zone` tag, a discovery function), or null. */
  readonly zone: string | null;
  /** Its weight for reads (option `hosts` or a discovery function; 1 unless set). */
  readonly weight: number;
}

export interface Topology {
  readonly writer: number | null;
  readonly readers: readonly number[];
  readonly nodes: readonly TopologyNode[];
  /** How reads that had to see a write were served (consistency 'session' and write tokens). */
  readonly freshness: Readonly<FreshnessStats>;
  /** Whether the cluster sleeps (`idleAfterMillis`): no session, no timer; `nodes` shows each host's last status before. */
  readonly idle: boolean;
}

function describePatroni(authority: LeaderAuthority | null, hostIndex: number): string {
  if (authority === null) return '';
  const report = authority.report(hostIndex);
  if (report === null) return '; Patroni: not asked yet';
  const said = report.role === null ? 'never answered' : `${report.role} ${report.state ?? ''}`.trim();
  return `; Patroni: ${said}${report.error === null ? '' : ` (last request: ${report.error})`}`;
}

export function describeNodes(watch: ClusterWatch, authority: LeaderAuthority | null): string {
  return watch
    .statuses()
    .map((s) => {
      const state = s.reachable
        ? `${s.role ?? '?'}${s.readOnly ? ' (read-only)' : ''}, timeline ${s.timeline ?? '?'}`
        : (s.error ?? 'down');
      return `  ${s.host}:${s.port}: ${state}${describePatroni(authority, s.hostIndex)}`;
    })
    .join('\n');
}

export function snapshot(
  watch: ClusterWatch,
  registry: ConnectionRegistry,
  tooFar: (s: NodeStatus) => boolean,
  freshness: FreshnessStats,
  authority: LeaderAuthority | null,
  members: Members,
  idle: boolean,
): Topology {
  const d = watch.decision;
  const weights = members.weights();
  const nodes = watch.statuses().map((s) =>
    Object.freeze({
      ...s,
      writer: d.writer === s.hostIndex,
      reader: d.readers.includes(s.hostIndex),
      stale: d.stalePrimaries.includes(s.hostIndex),
      lagging: s.reachable && s.role === 'standby' && tooFar(s),
      openConnections: registry.openConnections(s.hostIndex),
      unconfirmed: d.unconfirmed.includes(s.hostIndex),
      patroni: authority?.report(s.hostIndex) ?? null,
      origin: members.origin(s.hostIndex),
      noLoadBalance: members.noLoadBalance(s.hostIndex),
      noFailover: members.noFailover(s.hostIndex),
      zone: members.zone(s.hostIndex),
      weight: weights?.(s.hostIndex) ?? 1,
    }),
  );
  return Object.freeze({
    writer: d.writer,
    readers: Object.freeze([...d.readers]),
    nodes: Object.freeze(nodes),
    freshness: Object.freeze({ ...freshness }),
    idle,
  });
}
